//! Datasets as Parquet, for tools that prefer it (pandas, polars, Hugging Face `datasets`).
//!
//! `text` and `label` are string columns; every other field of the rows becomes a nullable string
//! column holding the field's JSON (nested values such as `lineage` stay lossless that way).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use genprompt_core::Row;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::DataError;

/// Writes `rows` to `path` atomically (temporary file, then rename), Snappy-compressed.
pub fn write_parquet(path: &Path, rows: &[Row]) -> Result<(), DataError> {
    let mut extra_keys: Vec<&str> = Vec::new();
    for row in rows {
        for key in row.extra.keys() {
            if !extra_keys.contains(&key.as_str()) {
                extra_keys.push(key);
            }
        }
    }
    let mut fields = vec![Field::new("text", DataType::Utf8, false), Field::new("label", DataType::Utf8, false)];
    fields.extend(extra_keys.iter().map(|key| Field::new(*key, DataType::Utf8, true)));
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.text.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.label.as_str()))),
    ];
    for key in &extra_keys {
        let values = rows.iter().map(|row| {
            row.extra.get(*key).map(|value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
        });
        columns.push(Arc::new(values.collect::<StringArray>()));
    }
    let io_err = |message: String| DataError::io(path, std::io::Error::other(message));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| io_err(e.to_string()))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staging = tempfile::Builder::new()
        .prefix(".genprompt-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|source| DataError::io(dir, source))?;
    let file = staging.reopen().map_err(|source| DataError::io(path, source))?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(|e| io_err(e.to_string()))?;
    writer.write(&batch).map_err(|e| io_err(e.to_string()))?;
    writer.close().map_err(|e| io_err(e.to_string()))?;
    staging.persist(path).map_err(|err| DataError::io(path, err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn rows_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dataset.parquet");
        let mut first = Row::new("Billed twice", "billing");
        first.extra.insert("id".into(), serde_json::json!("gen:billing:0"));
        first.extra.insert("lineage".into(), serde_json::json!({"parents": ["seed:1", "seed:3"], "batch": 0}));
        let second = Row::new("Where is my parcel? 📦", "delivery");
        write_parquet(&path, &[first, second]).unwrap();

        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let schema = reader.metadata().file_metadata().schema_descr();
        let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["text", "label", "id", "lineage"]);
        let rows: Vec<String> = reader.get_row_iter(None).unwrap().map(|row| row.unwrap().to_string()).collect();
        assert!(rows[0].contains("Billed twice") && rows[0].contains("gen:billing:0"), "{rows:?}");
        assert!(rows[0].contains("seed:3") && rows[0].contains("batch"), "lineage kept as JSON: {rows:?}");
        assert!(rows[1].contains("📦") && rows[1].contains("id: null"), "{rows:?}");
    }
}

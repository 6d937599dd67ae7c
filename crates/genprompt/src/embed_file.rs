//! Adds an `embedding` field to every row of a JSONL file, in bounded memory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use genprompt_core::Row;
use genprompt_data::{RowReader, RowWriter};
use genprompt_embed::Encoder;
use serde_json::Value;

use crate::error::ResultExt;
use crate::{Backends, CancelToken, Observer, Result};

/// Rows embedded per encoder call; memory stays bounded whatever the file size.
const CHUNK: usize = 256;

/// What `embed_file` wrote.
#[derive(Clone, Debug)]
pub struct Embedded {
    pub n_rows: usize,
    pub rows_per_s: f64,
    /// The encoder, as one line.
    pub encoder: String,
    pub output: PathBuf,
}

pub fn embed_file(
    input: &Path,
    output: &Path,
    backends: &Backends,
    observer: &dyn Observer,
    cancel: &CancelToken,
) -> Result<Embedded> {
    let encoder = backends.load_encoder()?;
    let reader = RowReader::open(input)?;
    let mut writer = RowWriter::create(output)?;
    let started = Instant::now();
    observer.counter_started("embed", 0);
    let mut chunk = Vec::with_capacity(CHUNK);
    for item in reader {
        let (_, row) = item?;
        chunk.push(row);
        if chunk.len() == CHUNK {
            cancel.check()?;
            write_chunk(&mut chunk, &*encoder, &mut writer)?;
            let rate = writer.n_rows() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            observer.counter_updated(writer.n_rows() as u64, &format!("rows, {rate:.1} rows/s"));
        }
    }
    write_chunk(&mut chunk, &*encoder, &mut writer)?;
    let n_rows = writer.n_rows();
    let output = writer.finish().with_context(|| format!("cannot write {}", output.display()))?;
    observer.cleared();
    Ok(Embedded {
        n_rows,
        rows_per_s: n_rows as f64 / started.elapsed().as_secs_f64().max(1e-9),
        encoder: encoder.identity().to_string(),
        output,
    })
}

fn write_chunk(chunk: &mut Vec<Row>, encoder: &dyn Encoder, writer: &mut RowWriter) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let texts: Vec<&str> = chunk.iter().map(|row| row.text.as_str()).collect();
    let embeddings = encoder.encode(&texts)?;
    for (mut row, vector) in chunk.drain(..).zip(embeddings.rows()) {
        let vector: Vec<Value> = vector.iter().map(|v| Value::from(f64::from(*v))).collect();
        row.extra.insert("embedding".to_string(), Value::Array(vector));
        writer.write(&row)?;
    }
    Ok(())
}

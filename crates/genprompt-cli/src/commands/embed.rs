use std::time::Instant;

use anyhow::{Context, Result};
use genprompt_data::{RowReader, RowWriter};
use genprompt_embed::Encoder;
use serde_json::Value;

use crate::args::EmbedArgs;
use crate::backends::load_encoder;
use crate::progress::Progress;

/// Rows embedded per encoder call; memory stays bounded whatever the file size.
const CHUNK: usize = 256;

pub fn run(args: EmbedArgs, progress: &Progress) -> Result<()> {
    let encoder = load_encoder(&args.models)?;
    let reader = RowReader::open(&args.input)?;
    let mut writer = RowWriter::create(&args.output)?;
    let started = Instant::now();
    progress.start("embed", 0);
    let mut chunk = Vec::with_capacity(CHUNK);
    for item in reader {
        let (_, row) = item?;
        chunk.push(row);
        if chunk.len() == CHUNK {
            write_chunk(&mut chunk, &encoder, &mut writer)?;
            report(progress, writer.n_rows(), started);
        }
    }
    write_chunk(&mut chunk, &encoder, &mut writer)?;
    let n_rows = writer.n_rows();
    let path = writer.finish().with_context(|| format!("cannot write {}", args.output.display()))?;
    progress.clear();
    println!(
        "embedded {n_rows} rows ({:.1} rows/s) with {} into {}",
        n_rows as f64 / started.elapsed().as_secs_f64().max(1e-9),
        encoder.identity(),
        path.display()
    );
    Ok(())
}

fn write_chunk(chunk: &mut Vec<genprompt_core::Row>, encoder: &dyn Encoder, writer: &mut RowWriter) -> Result<()> {
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

fn report(progress: &Progress, n_rows: usize, started: Instant) {
    let rate = n_rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
    progress.update(n_rows as u64, &format!("rows, {rate:.1} rows/s"));
}

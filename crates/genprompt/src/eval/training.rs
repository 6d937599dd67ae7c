//! The classifier's training set per mix, and the embedding of rows with progress.

use genprompt_core::Row;
use genprompt_embed::{Embeddings, Encoder};

use super::{EvalPlan, Mix};
use crate::{CancelToken, Error, Observer, Result};

/// What the classifier trains on: embeddings, label indices and texts (for fine-tuning).
pub(super) struct FitSet<'a> {
    pub x: Embeddings,
    pub y: Vec<usize>,
    pub texts: Vec<&'a str>,
}

pub(super) fn label_indices(labels: &[String], rows: &[Row]) -> Vec<usize> {
    rows.iter()
        // Invariant: `evaluate_with` collects `labels` from the test, training and real rows.
        .map(|row| labels.iter().position(|l| *l == row.label).expect("labels are collected from all rows"))
        .collect()
}

fn texts_of(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|row| row.text.as_str()).collect()
}

/// The training set `plan.mix` asks for.
pub(super) fn fit_set<'a>(
    plan: &EvalPlan<'a>,
    labels: &[String],
    train_x: &Embeddings,
    real_x: Option<&Embeddings>,
) -> Result<FitSet<'a>> {
    let train_rows: &'a [Row] = &plan.train.rows;
    let train_y = label_indices(labels, train_rows);
    let real = plan.real_train.map(|rows| &rows.rows[..]).zip(real_x);
    Ok(match (plan.mix, real) {
        (Mix::Synthetic, _) => FitSet { x: train_x.clone(), y: train_y, texts: texts_of(train_rows) },
        (Mix::Real, Some((rows, x))) => FitSet { x: x.clone(), y: label_indices(labels, rows), texts: texts_of(rows) },
        (Mix::Fusion, Some((rows, x))) => {
            let mut fused = train_x.clone();
            fused.extend(x)?;
            let mut texts = texts_of(train_rows);
            texts.extend(texts_of(rows));
            let y = train_y.iter().copied().chain(label_indices(labels, rows)).collect();
            FitSet { x: fused, y, texts }
        }
        (Mix::FusionEqual, Some((rows, x))) => {
            let real_y = label_indices(labels, rows);
            let n = train_y.len().min(real_y.len());
            let synthetic = seeded_subset(train_y.len(), n, plan.rng_seed);
            let real = seeded_subset(real_y.len(), n, plan.rng_seed.wrapping_add(1));
            let mut fit = FitSet { x: Embeddings::new(x.dim()), y: Vec::new(), texts: Vec::new() };
            for &idx in &synthetic {
                fit.x.push(train_x.row(idx))?;
                fit.y.push(train_y[idx]);
                fit.texts.push(train_rows[idx].text.as_str());
            }
            for &idx in &real {
                fit.x.push(x.row(idx))?;
                fit.y.push(real_y[idx]);
                fit.texts.push(rows[idx].text.as_str());
            }
            fit
        }
        _ => return Err(Error::bad_input("--mix real and --mix fusion need --real-train FILE")),
    })
}

/// `n` of `0..len`, drawn without replacement with `rng_seed`, in ascending order.
fn seeded_subset(len: usize, n: usize, rng_seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng_seed);
    let mut picked = rand::seq::index::sample(&mut rng, len, n.min(len)).into_vec();
    picked.sort_unstable();
    picked
}

/// XML-style entity tags (`<chemical>`, `</chemical>`, `<e1>`...) present in at least a tenth of
/// the rows: relation tasks keep them in the text, and the fine-tuned tokenizer must see each as
/// one token rather than as `<`, `chemical`, `>`.
pub fn entity_tags(texts: &[&str]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for text in texts {
        let mut seen = std::collections::BTreeSet::new();
        let mut rest = *text;
        while let Some(start) = rest.find('<') {
            rest = &rest[start..];
            let Some(end) = rest.find('>') else { break };
            let tag = &rest[..=end];
            let name = tag.trim_start_matches("</").trim_start_matches('<').trim_end_matches('>');
            if !name.is_empty() && name.len() <= 24 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                seen.insert(tag.to_string());
            }
            rest = &rest[1..];
        }
        for tag in seen {
            *counts.entry(tag).or_default() += 1;
        }
    }
    counts.into_iter().filter(|(_, n)| *n * 10 >= texts.len().max(1)).map(|(tag, _)| tag).collect()
}

/// Embeds rows in chunks so that progress can be shown and a cancel is heard.
pub(crate) fn embed_rows(
    rows: &[Row],
    encoder: &dyn Encoder,
    what: &str,
    observer: &dyn Observer,
    cancel: &CancelToken,
) -> Result<Embeddings> {
    const CHUNK: usize = 256;
    let mut embeddings = Embeddings::new(encoder.dim());
    observer.counter_started(what, rows.len() as u64);
    for chunk in rows.chunks(CHUNK) {
        cancel.check()?;
        let texts: Vec<&str> = chunk.iter().map(|row| row.text.as_str()).collect();
        embeddings.extend(&encoder.encode(&texts)?)?;
        observer.counter_updated(embeddings.len() as u64, "rows");
    }
    Ok(embeddings)
}

//! The `Encoder` seam: text in, L2-normalised sentence embeddings out.
//!
//! Parent selection and evaluation only ever see this trait and the `Embeddings` matrix, so a new
//! encoder backend (candle, an HTTP `/v1/embeddings` endpoint, a test double) is one new crate.

use std::fmt;

/// A row-major matrix of sentence embeddings, one row per text.
///
/// Invariant: every row has length `dim`; rows produced by an `Encoder` are L2-normalised (an
/// all-zero row stays zero), so the dot product of two rows is their cosine similarity.
/// Shapes come from encoders and callers outside this crate, so a row that does not fit is an
/// [`EmbedError::Shape`], never a panic; a matrix of dimension 0 exists (as what an encoder of
/// no dimensions would give) but holds no row.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// An empty matrix of rows of length `dim`.
    pub fn new(dim: usize) -> Embeddings {
        Embeddings { dim, data: Vec::new() }
    }

    /// Builds a matrix from raw rows; an error if the data is not a whole number of rows.
    pub fn from_flat(dim: usize, data: Vec<f32>) -> Result<Embeddings, EmbedError> {
        if (dim == 0 && !data.is_empty()) || (dim > 0 && !data.len().is_multiple_of(dim)) {
            return Err(EmbedError::Shape(format!("{} values are not a whole number of rows of {dim}", data.len())));
        }
        Ok(Embeddings { dim, data })
    }

    /// Builds a matrix from rows, L2-normalising each one; an error if a row is not `dim` long.
    pub fn from_rows_normalised<R: AsRef<[f32]>>(dim: usize, rows: &[R]) -> Result<Embeddings, EmbedError> {
        let mut embeddings = Embeddings::new(dim);
        for row in rows {
            embeddings.push_normalised(row.as_ref())?;
        }
        Ok(embeddings)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `idx`; panics if `idx >= len()`, like indexing a slice (the caller's bound to keep).
    pub fn row(&self, idx: usize) -> &[f32] {
        &self.data[idx * self.dim..(idx + 1) * self.dim]
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        // A matrix of dimension 0 holds no data, so the chunk size only has to be non-zero.
        self.data.chunks_exact(self.dim.max(1))
    }

    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    /// Appends a row as is; the caller guarantees it is already normalised.
    pub fn push(&mut self, row: &[f32]) -> Result<(), EmbedError> {
        self.check_row(row)?;
        self.data.extend_from_slice(row);
        Ok(())
    }

    /// Appends a row after L2-normalising it.
    pub fn push_normalised(&mut self, row: &[f32]) -> Result<(), EmbedError> {
        self.check_row(row)?;
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        let scale = if norm > 1e-12 { 1.0 / norm } else { 0.0 };
        self.data.extend(row.iter().map(|v| v * scale));
        Ok(())
    }

    /// Appends every row of `other`; an error if its dimension differs.
    pub fn extend(&mut self, other: &Embeddings) -> Result<(), EmbedError> {
        if other.dim != self.dim && !other.is_empty() {
            return Err(EmbedError::Shape(format!(
                "cannot join rows of dimension {} to a matrix of dimension {}",
                other.dim, self.dim
            )));
        }
        self.data.extend_from_slice(&other.data);
        Ok(())
    }

    /// Cosine similarity of rows `a` and `b` (rows are normalised); panics like [`Embeddings::row`].
    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        dot(self.row(a), self.row(b))
    }

    fn check_row(&self, row: &[f32]) -> Result<(), EmbedError> {
        if self.dim == 0 || row.len() != self.dim {
            return Err(EmbedError::Shape(format!(
                "a row of length {} in a matrix of dimension {}",
                row.len(),
                self.dim
            )));
        }
        Ok(())
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cosine similarity of two arbitrary (not necessarily normalised) vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let norm = (dot(a, a) * dot(b, b)).sqrt();
    if norm > 0.0 { dot(a, b) / norm } else { 0.0 }
}

/// Turns texts into sentence embeddings.
pub trait Encoder: Send + Sync {
    /// What produced the vectors (model name and weights hash); goes into manifests and caches.
    fn identity(&self) -> &EncoderIdentity;

    fn dim(&self) -> usize;

    /// Embeds `texts` in order; the result has exactly `texts.len()` normalised rows.
    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError>;
}

/// A boxed encoder is an encoder, so the CLI can pick a backend at run time.
impl<E: Encoder + ?Sized> Encoder for Box<E> {
    fn identity(&self) -> &EncoderIdentity {
        (**self).identity()
    }

    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        (**self).encode(texts)
    }
}

/// Names the weights behind an encoder so that results can be traced and cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncoderIdentity {
    pub name: String,
    /// sha256 of the weights file, hex.
    pub weights_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot load encoder from {path}: {message}")]
    Load { path: String, message: String },
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Rows that do not fit their matrix: an encoder or caller broke the shape contract.
    #[error("embeddings do not fit: {0}")]
    Shape(String),
}

impl fmt::Display for EncoderIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An endpoint's model has no weights file here to hash.
        if self.weights_sha256.is_empty() {
            return f.write_str(&self.name);
        }
        let short = self.weights_sha256.get(..12).unwrap_or(&self.weights_sha256);
        write!(f, "{} (sha256 {short})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_normalised_gives_unit_rows_and_keeps_zero_rows_zero() {
        let embeddings = Embeddings::from_rows_normalised(2, &[[3.0, 4.0], [0.0, 0.0]]).unwrap();
        assert_eq!(embeddings.row(0), &[0.6, 0.8]);
        assert_eq!(embeddings.row(1), &[0.0, 0.0]);
        assert!((embeddings.cosine(0, 0) - 1.0).abs() < 1e-6);
        assert_eq!(embeddings.len(), 2);
    }

    #[test]
    fn cosine_of_orthogonal_and_opposite_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[-2.0, -2.0]) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn rows_that_do_not_fit_are_errors_not_panics() {
        let mut embeddings = Embeddings::new(2);
        assert!(matches!(embeddings.push(&[1.0]), Err(EmbedError::Shape(_))));
        assert!(matches!(embeddings.push_normalised(&[1.0, 2.0, 3.0]), Err(EmbedError::Shape(_))));
        assert!(embeddings.is_empty(), "nothing is appended on an error");
        assert!(Embeddings::from_flat(2, vec![1.0; 3]).is_err());
        assert!(Embeddings::from_flat(0, vec![1.0]).is_err());
        assert!(Embeddings::from_rows_normalised(2, &[vec![1.0, 0.0], vec![1.0]]).is_err());
        let three = Embeddings::from_flat(3, vec![0.0; 3]).unwrap();
        assert!(matches!(embeddings.extend(&three), Err(EmbedError::Shape(_))));
        embeddings.extend(&Embeddings::from_flat(2, vec![0.6, 0.8]).unwrap()).unwrap();
        assert_eq!(embeddings.len(), 1);
        // Dimension 0: a matrix that holds no row, and says so instead of dividing by zero.
        let mut none = Embeddings::new(0);
        assert_eq!((none.len(), none.rows().count()), (0, 0));
        assert!(none.push(&[]).is_err());
    }
}

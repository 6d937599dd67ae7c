use std::collections::HashSet;

use genprompt_embed::Embeddings;

use super::selection::FarIndex;
use crate::MethodError;

/// The members of one label that parents are drawn from: its seed rows, then every kept offspring.
pub struct Pool {
    members: Vec<Member>,
    pub(crate) embeddings: Embeddings,
    /// Pairs `(i, j)` with `i < j` already used as parents, for `ParentSelection::Active`.
    pub(crate) used_pairs: HashSet<(usize, usize)>,
    /// Parent search of large pools, built on first use; it catches up with added members itself.
    pub(crate) index: Option<FarIndex>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `seed:<line>` or an offspring id.
    pub id: String,
    pub text: String,
}

impl Pool {
    /// A pool of `members`, whose embeddings are the rows of `embeddings` in the same order; an
    /// error if the counts differ (e.g. an encoder that returned too few rows).
    pub fn new(members: Vec<Member>, embeddings: Embeddings) -> Result<Pool, MethodError> {
        check_counts(members.len(), embeddings.len())?;
        Ok(Pool { members, embeddings, used_pairs: HashSet::new(), index: None })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn member(&self, idx: usize) -> &Member {
        &self.members[idx]
    }

    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// Makes every pair selectable again by `ParentSelection::Active`.
    pub fn forget_used_pairs(&mut self) {
        self.used_pairs.clear();
        // The index dropped the pairs it handed out; a new one knows them again.
        self.index = None;
    }

    /// Makes one pair selectable again, e.g. after its request failed.
    pub fn release_pair(&mut self, parents: crate::Parents) {
        let (first, second) = (parents.first(), parents.second());
        if self.used_pairs.remove(&(first, second))
            && let Some(index) = &mut self.index
        {
            index.release(&self.embeddings, first, second);
        }
    }

    /// Adds kept offspring with their embeddings (rows in the same order). The parent index of a
    /// large pool takes them in at the next selection.
    /// An error if the counts differ, and then nothing is added.
    pub fn add(&mut self, members: Vec<Member>, embeddings: &Embeddings) -> Result<(), MethodError> {
        check_counts(members.len(), embeddings.len())?;
        if members.is_empty() {
            return Ok(());
        }
        if embeddings.dim() != self.embeddings.dim() {
            return Err(MethodError::EmbeddingShape {
                what: "pool embeddings",
                detail: format!("dimension {} instead of {}", embeddings.dim(), self.embeddings.dim()),
            });
        }
        self.members.extend(members);
        self.embeddings.extend(embeddings)?;
        Ok(())
    }
}

fn check_counts(members: usize, embeddings: usize) -> Result<(), MethodError> {
    if members != embeddings {
        let detail = format!("{embeddings} embeddings for {members} members");
        return Err(MethodError::EmbeddingShape { what: "pool embeddings", detail });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<Member> {
        (0..n).map(|i| Member { id: format!("seed:{i}"), text: format!("text {i}") }).collect()
    }

    fn rows(n: usize, dim: usize) -> Embeddings {
        Embeddings::from_rows_normalised(dim, &vec![vec![1.0; dim]; n]).unwrap()
    }

    #[test]
    fn counts_or_dimensions_that_differ_are_errors_and_change_nothing() {
        let err = Pool::new(members(3), rows(2, 4)).err().unwrap();
        assert_eq!(err.to_string(), "pool embeddings do not fit: 2 embeddings for 3 members");
        let mut pool = Pool::new(members(2), rows(2, 4)).unwrap();
        assert!(pool.add(members(2), &rows(1, 4)).is_err());
        let err = pool.add(members(1), &rows(1, 3)).unwrap_err();
        assert!(err.to_string().contains("dimension 3 instead of 4"), "{err}");
        assert_eq!((pool.len(), pool.embeddings().len()), (2, 2));
        pool.add(members(1), &rows(1, 4)).unwrap();
        pool.add(Vec::new(), &Embeddings::new(7)).unwrap();
        assert_eq!((pool.len(), pool.embeddings().len()), (3, 3));
    }

    #[test]
    fn genetic_prompt_reports_an_encoder_that_returned_too_few_rows() {
        use genprompt_core::{Gene, Label, LabelId, SeedRow, SeedSelection, Task, TaskKind};

        use crate::Method;
        let task = Task::new(
            "support".into(),
            TaskKind::Classification,
            "customer support routing".into(),
            "customer message".into(),
            vec![Label { name: "billing".into(), definition: "charges".into() }],
            vec![Gene { name: "length".into() }, Gene { name: "tone".into() }],
            SeedSelection { path: "seeds.jsonl".into(), per_label: 3 },
        );
        let mut method = crate::Genetic::new(&task, crate::GeneticConfig::paper(), 1);
        let seeds: Vec<SeedRow> = (0..3).map(|i| SeedRow { line: i + 1, text: format!("row {i}") }).collect();
        let err = method.start_label(LabelId(0), &seeds, rows(2, 4)).unwrap_err();
        assert!(matches!(err, MethodError::EmbeddingShape { .. }), "{err}");
    }
}

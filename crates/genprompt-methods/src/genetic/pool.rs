use std::collections::HashSet;

use genprompt_embed::Embeddings;

use super::selection::FarIndex;

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
    /// Panics if the counts differ: the caller embeds exactly the members it passes.
    pub fn new(members: Vec<Member>, embeddings: Embeddings) -> Pool {
        assert_eq!(members.len(), embeddings.len(), "one embedding per pool member");
        Pool { members, embeddings, used_pairs: HashSet::new(), index: None }
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
    pub fn add(&mut self, members: Vec<Member>, embeddings: &Embeddings) {
        assert_eq!(members.len(), embeddings.len(), "one embedding per pool member");
        self.members.extend(members);
        self.embeddings.extend(embeddings);
    }
}

use genprompt_embed::Embeddings;

/// The members of one label that parents are drawn from: its seed rows, then every kept offspring.
pub struct Pool {
    members: Vec<Member>,
    embeddings: Embeddings,
    /// Pairs `(i, j)` with `i < j` already used as parents, for `ParentSelection::Active`.
    pub(crate) used_pairs: std::collections::HashSet<(usize, usize)>,
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
        Pool { members, embeddings, used_pairs: Default::default() }
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
    }

    /// Makes one pair selectable again, e.g. after its request failed.
    pub fn release_pair(&mut self, parents: crate::Parents) {
        self.used_pairs.remove(&(parents.first(), parents.second()));
    }

    /// Adds kept offspring with their embeddings (rows in the same order).
    pub fn add(&mut self, members: Vec<Member>, embeddings: &Embeddings) {
        assert_eq!(members.len(), embeddings.len(), "one embedding per pool member");
        self.members.extend(members);
        self.embeddings.extend(embeddings);
    }
}

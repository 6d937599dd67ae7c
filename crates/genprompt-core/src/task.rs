use std::path::PathBuf;

/// A resolved, validated task (the on-disk `TaskFile` lives in `genprompt-data`).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub name: String,
    pub kind: TaskKind,
    /// Completes "synthetic data for the {domain} task", e.g. "customer support routing".
    pub domain: String,
    /// What one row is, e.g. "SMS message", "news article", "sentence".
    pub text_kind: String,
    labels: Vec<Label>,
    pub genes: Vec<Gene>,
    pub seeds: SeedSelection,
}

impl Task {
    /// Panics if `labels` is empty or has duplicate names: the loader checks both with a located
    /// error before building a `Task`, so reaching the panic is a bug.
    pub fn new(
        name: String,
        kind: TaskKind,
        domain: String,
        text_kind: String,
        labels: Vec<Label>,
        genes: Vec<Gene>,
        seeds: SeedSelection,
    ) -> Task {
        assert!(!labels.is_empty(), "a task has at least one label; the loader checks this");
        for (idx, label) in labels.iter().enumerate() {
            assert!(
                labels[..idx].iter().all(|other| other.name != label.name),
                "label names are unique; the loader checks this"
            );
        }
        Task { name, kind, domain, text_kind, labels, genes, seeds }
    }

    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn label(&self, id: LabelId) -> &Label {
        &self.labels[id.0]
    }

    pub fn label_id(&self, name: &str) -> Option<LabelId> {
        self.labels.iter().position(|label| label.name == name).map(LabelId)
    }

    pub fn label_ids(&self) -> impl Iterator<Item = LabelId> + use<> {
        (0..self.labels.len()).map(LabelId)
    }
}

/// Index of a label in its task's label list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    Classification,
    /// Entity-tagged sentences expressing a relation; generation arrives with a later issue.
    RelationExtraction,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Classification => "classification",
            TaskKind::RelationExtraction => "relation_extraction",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    /// One line saying what belongs to the label; it goes verbatim into prompts.
    pub definition: String,
}

/// A semantic attribute of a text (length, style, voice, subtopic...) that offspring inherit or mutate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gene {
    pub name: String,
}

/// Where the real rows that seed each label's pool come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedSelection {
    pub path: PathBuf,
    /// The first `per_label` rows of each label, in file order, are used.
    pub per_label: usize,
}

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
    /// The entity tags of a relation extraction task; `None` for classification.
    pub relation: Option<RelationSpec>,
    /// Li et al.'s context prompt ("Suppose you are a movie critic..."), for zero/few-shot.
    pub context: Option<String>,
    /// Word limit that zero/few-shot prompts state.
    pub max_words: Option<usize>,
    /// AttrPrompt's value lists.
    pub attributes: Attributes,
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
        Task {
            name,
            kind,
            domain,
            text_kind,
            labels,
            genes,
            seeds,
            relation: None,
            context: None,
            max_words: None,
            attributes: Attributes::default(),
        }
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

/// The two XML-style tags that mark the entities of a relation, e.g. `<chemical>` and `<protein>`;
/// both may be the same tag (`<entity>` twice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationSpec {
    pub tags: [String; 2],
}

impl RelationSpec {
    /// How many times each distinct tag must open and close in one text.
    pub fn required_counts(&self) -> Vec<(&str, usize)> {
        if self.tags[0] == self.tags[1] {
            vec![(self.tags[0].as_str(), 2)]
        } else {
            vec![(self.tags[0].as_str(), 1), (self.tags[1].as_str(), 1)]
        }
    }
}

/// Attribute names with their values, in task-file order.
pub type ValueLists = Vec<(String, Vec<String>)>;

/// Value lists for AttrPrompt: class-independent ones, and per-label overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// In task-file order.
    pub shared: ValueLists,
    /// Label name -> attribute -> values, replacing the shared list for that label.
    pub per_label: Vec<(String, ValueLists)>,
}

impl Attributes {
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.per_label.is_empty()
    }

    /// Attribute names in order: shared ones first, then those only some labels define.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.shared.iter().map(|(name, _)| name.as_str()).collect();
        for (_, attributes) in &self.per_label {
            for (name, _) in attributes {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The values of `attribute` for `label`: the label's own list if it has one, else the shared one.
    pub fn values(&self, label: &str, attribute: &str) -> Option<&[String]> {
        let own = self
            .per_label
            .iter()
            .find(|(name, _)| name == label)
            .and_then(|(_, attributes)| attributes.iter().find(|(name, _)| name == attribute));
        own.or_else(|| self.shared.iter().find(|(name, _)| name == attribute)).map(|(_, values)| values.as_slice())
    }
}

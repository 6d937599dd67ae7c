use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One labelled text, as read from or written to a JSONL dataset.
///
/// Fields other than `text` and `label` are kept in `extra` and written back unchanged, so user
/// datasets survive a round trip through genprompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub text: String,
    pub label: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Row {
    pub fn new(text: impl Into<String>, label: impl Into<String>) -> Row {
        Row { text: text.into(), label: label.into(), extra: Map::new() }
    }
}

/// What an offspring does with one gene.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneRole {
    /// Inherit the gene's value from the first parent (Example 1).
    FromParent1,
    /// Inherit the gene's value from the second parent (Example 2).
    FromParent2,
    /// Mutation: the value must differ from both parents.
    Mutate,
}

/// The role of every gene for one offspring, in prompt order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crossover {
    pub roles: Vec<(String, GeneRole)>,
}

impl Crossover {
    pub fn genes_with(&self, role: GeneRole) -> Vec<&str> {
        self.roles.iter().filter(|(_, r)| *r == role).map(|(g, _)| g.as_str()).collect()
    }
}

/// Where a generated row came from: written next to it in `dataset.jsonl`.
///
/// Genetic Prompt fills `parents` and the gene roles; example-based baselines fill `examples`;
/// AttrPrompt fills `attributes`. Empty parts are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// Ids of the two parents: `seed:<line>` for a real seed row, or another offspring's id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_parent1: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_parent2: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutated: Vec<String>,
    /// Ids of real rows shown as in-context examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Attribute values the prompt asked for (AttrPrompt).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Batch number within the label, from 0.
    pub batch: usize,
}

impl Lineage {
    pub fn genetic(parents: [String; 2], crossover: &Crossover, batch: usize) -> Lineage {
        let names = |role| crossover.genes_with(role).into_iter().map(str::to_string).collect();
        Lineage {
            parents: parents.to_vec(),
            from_parent1: names(GeneRole::FromParent1),
            from_parent2: names(GeneRole::FromParent2),
            mutated: names(GeneRole::Mutate),
            batch,
            ..Lineage::default()
        }
    }
}

/// A real labelled row that seeds a label's pool; never written to the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRow {
    /// 1-based line in the seed file; the row's id is `seed:<line>`.
    pub line: usize,
    pub text: String,
}

impl SeedRow {
    pub fn id(&self) -> String {
        format!("seed:{}", self.line)
    }
}

//! Gene and lineage statistics of a Genetic Prompt dataset, from the `lineage` of its rows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How Genetic Prompt's offspring were bred.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageStats {
    /// Rows whose lineage names parents; other rows (baselines) are ignored.
    pub n_offspring: usize,
    /// Per gene, in order of first appearance: how often each role was assigned.
    pub genes: Vec<GeneStats>,
    /// Offspring with at least one parent that is not a seed row (`seed:<line>`).
    pub with_offspring_parent: usize,
    /// Offspring whose parents are all offspring.
    pub all_offspring_parents: usize,
    /// `depth_histogram[d]`: offspring of generation depth `d`. A seed row has depth 0 and an
    /// offspring one more than its deepest parent, so index 0 is always 0.
    pub depth_histogram: Vec<usize>,
    /// Parent references that are neither seed rows nor ids of the rows given (depth taken as 0).
    pub unknown_parents: usize,
}

/// Role counts of one gene over all offspring.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneStats {
    pub gene: String,
    pub from_parent1: usize,
    pub from_parent2: usize,
    pub mutated: usize,
}

impl LineageStats {
    /// Share of offspring with at least one offspring parent; 0 without offspring.
    pub fn share_with_offspring_parent(&self) -> f64 {
        if self.n_offspring == 0 { 0.0 } else { self.with_offspring_parent as f64 / self.n_offspring as f64 }
    }

    /// Mean generation depth of the offspring; 0 without offspring.
    pub fn mean_depth(&self) -> f64 {
        let total: usize = self.depth_histogram.iter().enumerate().map(|(d, n)| d * n).sum();
        if self.n_offspring == 0 { 0.0 } else { total as f64 / self.n_offspring as f64 }
    }
}

enum Parent {
    Seed,
    Row(usize),
    Unknown,
}

/// Computes [`LineageStats`] from `dataset.jsonl` rows (`{"id": ..., "lineage": {"parents": [...],
/// "from_parent1": [...], "from_parent2": [...], "mutated": [...]}}`), in any order.
pub fn lineage_stats(dataset_rows: &[Value]) -> LineageStats {
    let offspring: Vec<(&Value, &Value, Vec<&str>)> = dataset_rows
        .iter()
        .filter_map(|row| {
            let lineage = row.get("lineage")?;
            let parents = strings(lineage.get("parents"));
            (!parents.is_empty()).then_some((row, lineage, parents))
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, (row, ..)) in offspring.iter().enumerate() {
        if let Some(id) = row.get("id").and_then(Value::as_str) {
            index.entry(id).or_insert(i);
        }
    }

    let mut stats = LineageStats { n_offspring: offspring.len(), ..LineageStats::default() };
    let mut gene_index: HashMap<String, usize> = HashMap::new();
    let mut refs: Vec<Vec<Parent>> = Vec::with_capacity(offspring.len());
    for (_, lineage, parents) in &offspring {
        for (role, key) in ["from_parent1", "from_parent2", "mutated"].iter().enumerate() {
            for gene in strings(lineage.get(key)) {
                let at = *gene_index.entry(gene.to_string()).or_insert_with(|| {
                    stats.genes.push(GeneStats { gene: gene.to_string(), ..GeneStats::default() });
                    stats.genes.len() - 1
                });
                let counts = &mut stats.genes[at];
                match role {
                    0 => counts.from_parent1 += 1,
                    1 => counts.from_parent2 += 1,
                    _ => counts.mutated += 1,
                }
            }
        }
        let resolved: Vec<Parent> = parents
            .iter()
            .map(|id| match index.get(id) {
                _ if id.starts_with("seed:") => Parent::Seed,
                Some(&i) => Parent::Row(i),
                None => Parent::Unknown,
            })
            .collect();
        let from_offspring = resolved.iter().filter(|p| !matches!(p, Parent::Seed)).count();
        stats.with_offspring_parent += usize::from(from_offspring > 0);
        stats.all_offspring_parents += usize::from(from_offspring == resolved.len());
        stats.unknown_parents += resolved.iter().filter(|p| matches!(p, Parent::Unknown)).count();
        refs.push(resolved);
    }
    for depth in depths(&refs) {
        if stats.depth_histogram.len() <= depth {
            stats.depth_histogram.resize(depth + 1, 0);
        }
        stats.depth_histogram[depth] += 1;
    }
    stats
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value.and_then(Value::as_array).map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Generation depth of every offspring, with an explicit stack (chains can be thousands long);
/// a parent on a cycle counts as depth 0.
fn depths(refs: &[Vec<Parent>]) -> Vec<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; refs.len()];
    let mut on_stack = vec![false; refs.len()];
    for start in 0..refs.len() {
        let mut stack = vec![start];
        while let Some(&i) = stack.last() {
            if depth[i].is_some() {
                stack.pop();
                continue;
            }
            on_stack[i] = true;
            let mut deepest = 0;
            let mut pending = None;
            for parent in &refs[i] {
                if let Parent::Row(j) = *parent {
                    match depth[j] {
                        Some(d) => deepest = deepest.max(d),
                        None if !on_stack[j] => pending = Some(j),
                        None => {}
                    }
                }
            }
            match pending {
                Some(j) => stack.push(j),
                None => {
                    depth[i] = Some(deepest + 1);
                    on_stack[i] = false;
                    stack.pop();
                }
            }
        }
    }
    depth.into_iter().map(|d| d.unwrap_or(1)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(id: &str, parents: &[&str], p1: &[&str], p2: &[&str], mutated: &[&str]) -> Value {
        json!({"text": "t", "label": "a", "id": id, "lineage": {
            "parents": parents, "from_parent1": p1, "from_parent2": p2, "mutated": mutated, "batch": 0}})
    }

    #[test]
    fn hand_computed_rows() {
        let rows = vec![
            // A child listed before its parents: depth must not depend on order.
            row("gen:a:2", &["gen:a:1", "gen:a:0"], &["length"], &["tone"], &["topic"]),
            row("gen:a:0", &["seed:1", "seed:2"], &["tone"], &["length"], &["topic"]),
            row("gen:a:1", &["seed:3", "gen:a:0"], &["tone", "topic"], &[], &["length"]),
            row("gen:b:0", &["seed:5", "gen:x:9"], &["tone"], &["length"], &[]),
            json!({"text": "baseline row", "label": "b", "id": "gen:b:1", "lineage": {"examples": ["seed:4"], "batch": 0}}),
            json!({"text": "no lineage", "label": "b"}),
        ];
        let stats = lineage_stats(&rows);
        assert_eq!(stats.n_offspring, 4);
        let gene =
            |name: &str, p1, p2, m| GeneStats { gene: name.into(), from_parent1: p1, from_parent2: p2, mutated: m };
        assert_eq!(stats.genes, vec![gene("length", 1, 2, 1), gene("tone", 3, 1, 0), gene("topic", 1, 0, 2)]);
        assert_eq!(stats.with_offspring_parent, 3);
        assert_eq!(stats.all_offspring_parents, 1);
        assert_eq!(stats.unknown_parents, 1);
        // gen:a:0 -> 1, gen:a:1 -> 2, gen:a:2 -> 3, gen:b:0 -> 1 (unknown parent counts as 0).
        assert_eq!(stats.depth_histogram, vec![0, 2, 1, 1]);
        assert!((stats.mean_depth() - 7.0 / 4.0).abs() < 1e-12);
        assert!((stats.share_with_offspring_parent() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn long_chains_and_cycles_do_not_overflow_or_hang() {
        let n = 20_000;
        let mut rows: Vec<Value> = (0..n)
            .map(|i| {
                let parent = if i == 0 { "seed:1".to_string() } else { format!("gen:a:{}", i - 1) };
                row(&format!("gen:a:{i}"), &[&parent, "seed:2"], &[], &[], &["g"])
            })
            .collect();
        rows.reverse();
        rows.push(row("gen:c:0", &["gen:c:1"], &[], &[], &[]));
        rows.push(row("gen:c:1", &["gen:c:0"], &[], &[], &[]));
        let stats = lineage_stats(&rows);
        assert_eq!(stats.depth_histogram.len(), n + 1);
        assert!(stats.depth_histogram[1..].iter().all(|&c| c >= 1));
        assert_eq!(stats.depth_histogram.iter().sum::<usize>(), n + 2);
        assert_eq!(stats.genes, vec![GeneStats { gene: "g".into(), mutated: n, ..GeneStats::default() }]);
        assert_eq!(lineage_stats(&[]), LineageStats::default());
    }
}

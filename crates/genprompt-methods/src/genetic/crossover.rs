use genprompt_core::{Crossover, Gene, GeneRole};
use rand::Rng;
use rand::seq::SliceRandom;

/// How gene roles are drawn; the paper and its official code differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeneSchedule {
    /// Paper: a random three-way partition per offspring (each part non-empty when there are
    /// enough genes), genes listed in task order.
    RandomPartition,
    /// Official code: shuffle the genes once per batch (the first batch keeps task order), then
    /// even positions from parent 1, odd from parent 2, the last one mutated.
    Alternating,
}

impl GeneSchedule {
    pub fn as_str(self) -> &'static str {
        match self {
            GeneSchedule::RandomPartition => "paper",
            GeneSchedule::Alternating => "code",
        }
    }
}

/// Gives every gene exactly one role. For `Alternating`, `batch` decides whether to shuffle and
/// `rng` must be the batch's stream so that all offspring of a batch share one order.
pub fn assign_genes(genes: &[Gene], schedule: GeneSchedule, batch: usize, rng: &mut impl Rng) -> Crossover {
    let n_genes = genes.len();
    let roles = match schedule {
        GeneSchedule::RandomPartition => {
            let mut order: Vec<usize> = (0..n_genes).collect();
            order.shuffle(rng);
            // The first shuffled gene mutates, the next two guarantee both parents contribute,
            // the rest land anywhere.
            let mut roles = vec![GeneRole::Mutate; n_genes];
            for (rank, &gene_idx) in order.iter().enumerate() {
                roles[gene_idx] = match rank {
                    0 => GeneRole::Mutate,
                    1 => GeneRole::FromParent1,
                    2 => GeneRole::FromParent2,
                    _ => [GeneRole::FromParent1, GeneRole::FromParent2, GeneRole::Mutate][rng.random_range(0..3)],
                };
            }
            genes.iter().zip(roles).map(|(gene, role)| (gene.name.clone(), role)).collect()
        }
        GeneSchedule::Alternating => {
            let mut order: Vec<&Gene> = genes.iter().collect();
            if batch > 0 {
                order.shuffle(rng);
            }
            order
                .iter()
                .enumerate()
                .map(|(pos, gene)| {
                    let role = if pos + 1 == n_genes {
                        GeneRole::Mutate
                    } else if pos % 2 == 0 {
                        GeneRole::FromParent1
                    } else {
                        GeneRole::FromParent2
                    };
                    (gene.name.clone(), role)
                })
                .collect()
        }
    };
    Crossover { roles }
}

#[cfg(test)]
mod tests {
    use genprompt_core::{RngStream, rng_for};

    use super::*;

    fn genes(names: &[&str]) -> Vec<Gene> {
        names.iter().map(|n| Gene { name: n.to_string() }).collect()
    }

    #[test]
    fn partition_gives_each_gene_one_role_and_uses_all_three_roles() {
        let genes = genes(&["length", "style", "voice", "subtopic", "location"]);
        for rng_seed in 0..200 {
            let mut rng = rng_for(rng_seed, RngStream::Crossover { label: 0, batch: 0 });
            let crossover = assign_genes(&genes, GeneSchedule::RandomPartition, 0, &mut rng);
            let names: Vec<&str> = crossover.roles.iter().map(|(g, _)| g.as_str()).collect();
            assert_eq!(names, ["length", "style", "voice", "subtopic", "location"], "task order kept");
            for role in [GeneRole::FromParent1, GeneRole::FromParent2, GeneRole::Mutate] {
                assert!(!crossover.genes_with(role).is_empty(), "{role:?} missing for seed {rng_seed}");
            }
        }
    }

    #[test]
    fn partition_of_one_or_two_genes_always_mutates_one() {
        let mut rng = rng_for(1, RngStream::Other(0));
        let one = assign_genes(&genes(&["length"]), GeneSchedule::RandomPartition, 0, &mut rng);
        assert_eq!(one.genes_with(GeneRole::Mutate), ["length"]);
        let two = assign_genes(&genes(&["length", "tone"]), GeneSchedule::RandomPartition, 0, &mut rng);
        assert_eq!(two.genes_with(GeneRole::Mutate).len(), 1);
        assert_eq!(two.genes_with(GeneRole::FromParent1).len(), 1);
    }

    #[test]
    fn alternating_matches_the_official_code() {
        let genes = genes(&["a", "b", "c", "d"]);
        let mut rng = rng_for(1, RngStream::Other(0));
        let first_batch = assign_genes(&genes, GeneSchedule::Alternating, 0, &mut rng);
        assert_eq!(
            first_batch.roles,
            [
                ("a".to_string(), GeneRole::FromParent1),
                ("b".to_string(), GeneRole::FromParent2),
                ("c".to_string(), GeneRole::FromParent1),
                ("d".to_string(), GeneRole::Mutate),
            ]
        );
        let later = assign_genes(&genes, GeneSchedule::Alternating, 3, &mut rng);
        assert_eq!(later.genes_with(GeneRole::FromParent1).len(), 2);
        assert_eq!(later.genes_with(GeneRole::FromParent2).len(), 1);
        assert_eq!(later.genes_with(GeneRole::Mutate).len(), 1);
    }
}

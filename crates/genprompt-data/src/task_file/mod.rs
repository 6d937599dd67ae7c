//! The task file (TOML): what is on disk (`TaskFile`) and its resolution into a `Task` plus the
//! seed rows of every label. The format is documented in `docs/task-file.md`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use genprompt_core::{Attributes, Gene, Label, RelationSpec, SeedRow, SeedSelection, Task, TaskKind};
use serde::Deserialize;
use toml::Spanned;

use crate::{DataError, Location, RowReader, sha256_hex};

mod llm;
pub use llm::LlmSettings;

const DEFAULT_SEEDS_PER_LABEL: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    name: Spanned<String>,
    kind: Spanned<String>,
    domain: Spanned<String>,
    text_kind: Spanned<String>,
    labels: Spanned<Vec<LabelEntry>>,
    #[serde(default)]
    genes: Vec<Spanned<String>>,
    seeds: Spanned<SeedsTable>,
    context: Option<Spanned<String>>,
    max_words: Option<Spanned<i64>>,
    relation: Option<Spanned<RelationTable>>,
    attributes: Option<Spanned<ValueLists>>,
    attributes_per_label: Option<Spanned<BTreeMap<String, Spanned<ValueLists>>>>,
    llm: Option<llm::LlmTable>,
}

/// Attribute name -> values, as written in `[attributes]` tables.
type ValueLists = BTreeMap<String, Spanned<Vec<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationTable {
    tags: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelEntry {
    name: Spanned<String>,
    definition: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedsTable {
    path: Option<Spanned<String>>,
    per_label: Option<Spanned<i64>>,
}

/// A validated task with the seed rows of each label (indexed by `LabelId`).
#[derive(Clone, Debug)]
pub struct LoadedTask {
    pub task: Task,
    pub seed_rows: Vec<Vec<SeedRow>>,
    pub task_file: PathBuf,
    pub task_file_sha256: String,
    pub seed_rows_sha256: String,
    /// The `[llm]` table, if the file has one.
    pub llm: Option<LlmSettings>,
}

/// Reads and validates a task file; `seed_override` replaces `[seeds].path` (the `--examples`
/// flag) and is taken relative to the working directory, while the file's own path is taken
/// relative to the task file.
pub fn load_task(path: &Path, seed_override: Option<&Path>) -> Result<LoadedTask, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::io(path, source))?;
    load_task_text(path, &text, seed_override)
}

/// Like [`load_task`] for a task file held in memory (e.g. built by a program): `path` names it
/// in messages, and a relative `[seeds].path` is taken relative to its folder.
pub fn load_task_text(path: &Path, text: &str, seed_override: Option<&Path>) -> Result<LoadedTask, DataError> {
    let at = |offset: usize| Location::from_offset(path.to_path_buf(), text, offset);
    let file: TaskFile = toml::from_str(text).map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start);
        DataError::invalid(at(offset), err.message().trim_end_matches('\n').to_string())
    })?;

    let mut problems = Vec::new();
    let mut problem = |offset: usize, message: String| problems.push(DataError::invalid(at(offset), message));
    let mut required = |field: &Spanned<String>, what: &str| {
        if field.get_ref().trim().is_empty() {
            problem(field.span().start, format!("`{what}` is empty"));
        }
        field.get_ref().trim().to_string()
    };
    let name = required(&file.name, "name");
    let domain = required(&file.domain, "domain");
    let text_kind = required(&file.text_kind, "text_kind");
    let kind = match file.kind.get_ref().as_str() {
        "classification" => TaskKind::Classification,
        "relation_extraction" => TaskKind::RelationExtraction,
        other => {
            problem(
                file.kind.span().start,
                format!("unknown kind \"{other}\"; expected \"classification\" or \"relation_extraction\""),
            );
            TaskKind::Classification
        }
    };

    let mut labels = Vec::new();
    let mut label_offsets = Vec::new();
    if file.labels.get_ref().is_empty() {
        problem(file.labels.span().start, "no labels; add at least one [[labels]] table".to_string());
    }
    for entry in file.labels.get_ref() {
        let label_name = entry.name.get_ref().trim().to_string();
        let offset = entry.name.span().start;
        if label_name.is_empty() {
            problem(offset, "label name is empty".to_string());
            continue;
        }
        if labels.iter().any(|label: &Label| label.name == label_name) {
            problem(offset, format!("duplicate label \"{label_name}\""));
            continue;
        }
        if entry.definition.get_ref().trim().is_empty() {
            problem(entry.definition.span().start, format!("label \"{label_name}\" has an empty definition"));
        }
        labels.push(Label { name: label_name, definition: entry.definition.get_ref().trim().to_string() });
        label_offsets.push(offset);
    }

    let mut genes: Vec<Gene> = Vec::new();
    for gene in &file.genes {
        let gene_name = gene.get_ref().trim().to_string();
        if gene_name.is_empty() {
            problem(gene.span().start, "gene name is empty".to_string());
        } else if genes.iter().any(|g| g.name == gene_name) {
            problem(gene.span().start, format!("duplicate gene \"{gene_name}\""));
        } else {
            genes.push(Gene { name: gene_name });
        }
    }

    let seeds = file.seeds.get_ref();
    let per_label = seeds.per_label.as_ref().map_or(DEFAULT_SEEDS_PER_LABEL, |v| *v.get_ref());
    if per_label < 1 {
        let offset = seeds.per_label.as_ref().map_or(file.seeds.span().start, |v| v.span().start);
        problem(offset, format!("`per_label` must be at least 1, got {per_label}"));
    }
    let seed_path = match (seed_override, &seeds.path) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, Some(file_path)) => {
            let seed_path = path.parent().unwrap_or(Path::new(".")).join(file_path.get_ref());
            if !seed_path.is_file() {
                problem(file_path.span().start, format!("seed file {} does not exist", seed_path.display()));
            }
            Some(seed_path)
        }
        (None, None) => {
            problem(
                file.seeds.span().start,
                "no seed rows: set `path` under [seeds] or pass --examples FILE".to_string(),
            );
            None
        }
    };

    let relation = match (kind, &file.relation) {
        (TaskKind::RelationExtraction, None) => {
            problem(
                file.kind.span().start,
                "relation_extraction tasks need a [relation] table with `tags = [\"tag1\", \"tag2\"]`".to_string(),
            );
            None
        }
        (TaskKind::Classification, Some(relation)) => {
            problem(relation.span().start, "[relation] only applies to kind = \"relation_extraction\"".to_string());
            None
        }
        (_, Some(relation)) => relation_spec(relation.get_ref(), &mut problem),
        (_, None) => None,
    };
    let max_words = match &file.max_words {
        Some(value) if *value.get_ref() < 1 => {
            problem(value.span().start, format!("`max_words` must be at least 1, got {}", value.get_ref()));
            None
        }
        Some(value) => Some(*value.get_ref() as usize),
        None => None,
    };
    let context = file.context.as_ref().map(|context| context.get_ref().trim().to_string()).filter(|c| !c.is_empty());
    let attributes = attributes(&file, &labels, &mut problem);
    let llm = file.llm.as_ref().map(|table| table.resolve(&mut problem));
    if !problems.is_empty() {
        return Err(many(problems));
    }

    let seed_path = seed_path.expect("a missing seed path is a problem reported above");
    let seed_bytes = std::fs::read(&seed_path).map_err(|source| DataError::io(&seed_path, source))?;
    let (seed_rows, mut problems) = read_seed_rows(&seed_path, &labels, per_label as usize)?;
    for (label, offset) in labels.iter().zip(&label_offsets) {
        let n_rows = seed_rows[labels.iter().position(|l| l.name == label.name).expect("label exists")].len();
        if n_rows == 0 {
            problems.push(DataError::invalid(
                at(*offset),
                format!("label \"{}\" has no seed rows in {}", label.name, seed_path.display()),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(many(problems));
    }

    let mut task = Task::new(
        name,
        kind,
        domain,
        text_kind,
        labels,
        genes,
        SeedSelection { path: seed_path, per_label: per_label as usize },
    );
    task.relation = relation;
    task.context = context;
    task.max_words = max_words;
    task.attributes = attributes;
    Ok(LoadedTask {
        task,
        seed_rows,
        task_file: path.to_path_buf(),
        task_file_sha256: sha256_hex(text.as_bytes()),
        seed_rows_sha256: sha256_hex(&seed_bytes),
        llm,
    })
}

fn relation_spec(relation: &RelationTable, problem: &mut impl FnMut(usize, String)) -> Option<RelationSpec> {
    let tags = relation.tags.get_ref();
    if tags.len() != 2 {
        problem(relation.tags.span().start, format!("`tags` needs exactly 2 entity tags, got {}", tags.len()));
        return None;
    }
    for tag in tags {
        let valid = !tag.get_ref().is_empty()
            && tag.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            let message =
                format!("entity tag \"{}\" must be letters, digits, _ or - (written without <>)", tag.get_ref());
            problem(tag.span().start, message);
            return None;
        }
    }
    Some(RelationSpec { tags: [tags[0].get_ref().clone(), tags[1].get_ref().clone()] })
}

fn value_lists(lists: &ValueLists, problem: &mut impl FnMut(usize, String)) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (attribute, values) in lists {
        let cleaned: Vec<String> =
            values.get_ref().iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if cleaned.is_empty() {
            problem(values.span().start, format!("attribute \"{attribute}\" has no values"));
            continue;
        }
        out.push((attribute.clone(), cleaned));
    }
    out
}

fn attributes(file: &TaskFile, labels: &[Label], problem: &mut impl FnMut(usize, String)) -> Attributes {
    let mut attributes = Attributes::default();
    if let Some(shared) = &file.attributes {
        attributes.shared = value_lists(shared.get_ref(), problem);
    }
    if let Some(per_label) = &file.attributes_per_label {
        for (label, lists) in per_label.get_ref() {
            if !labels.iter().any(|l| &l.name == label) {
                problem(
                    lists.span().start,
                    format!("[attributes_per_label.{label}]: label \"{label}\" is not declared"),
                );
                continue;
            }
            attributes.per_label.push((label.clone(), value_lists(lists.get_ref(), problem)));
        }
    }
    attributes
}

/// The first `per_label` rows of each declared label; rows with undeclared labels are problems.
fn read_seed_rows(
    path: &Path,
    labels: &[Label],
    per_label: usize,
) -> Result<(Vec<Vec<SeedRow>>, Vec<DataError>), DataError> {
    let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(idx, l)| (l.name.as_str(), idx)).collect();
    let mut by_label = vec![Vec::new(); labels.len()];
    let mut problems = Vec::new();
    for item in RowReader::open(path)? {
        let (line, row) = match item {
            Ok(item) => item,
            Err(err @ DataError::Invalid { .. }) => {
                problems.push(err);
                continue;
            }
            Err(err) => return Err(err),
        };
        match index.get(row.label.as_str()) {
            Some(&label_idx) if by_label[label_idx].len() < per_label => {
                by_label[label_idx].push(SeedRow { line, text: row.text });
            }
            Some(_) => {}
            None => problems.push(DataError::invalid(
                Location { path: path.to_path_buf(), line, column: None },
                format!("label \"{}\" is not declared in the task file", row.label),
            )),
        }
        if problems.len() >= 20 {
            break;
        }
    }
    Ok((by_label, problems))
}

fn many(mut problems: Vec<DataError>) -> DataError {
    if problems.len() == 1 { problems.remove(0) } else { DataError::Many(problems) }
}

#[cfg(test)]
mod tests;

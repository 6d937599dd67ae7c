use super::*;

fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn rows_keep_extra_fields_in_order_through_a_round_trip() {
    let (dir, path) =
        write("{\"text\":\"a\",\"label\":\"x\",\"id\":7,\"meta\":{\"k\":[1,2]}}\n\n{\"label\":\"y\",\"text\":\"b\"}\n");
    let rows = read_rows(&path).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].extra["id"], 7);
    let out = dir.path().join("out.jsonl");
    let mut writer = RowWriter::create(&out).unwrap();
    for row in &rows {
        writer.write(row).unwrap();
    }
    writer.finish().unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        "{\"text\":\"a\",\"label\":\"x\",\"id\":7,\"meta\":{\"k\":[1,2]}}\n{\"text\":\"b\",\"label\":\"y\"}\n"
    );
}

#[test]
fn malformed_line_names_file_and_line() {
    let (_dir, path) = write("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\": \"b\"\n");
    let err = read_rows(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:2:", path.display())), "{err}");
}

#[test]
fn missing_label_field_is_an_error() {
    let (_dir, path) = write("{\"text\":\"a\"}\n");
    let err = read_rows(&path).unwrap_err().to_string();
    assert!(err.contains(":1:") && err.contains("missing field `label`"), "{err}");
}

#[test]
fn empty_text_is_rejected() {
    let (_dir, path) = write("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"  \",\"label\":\"x\"}\n");
    let err = read_rows(&path).unwrap_err().to_string();
    assert_eq!(err, format!("{}:2: empty \"text\"; remove the row or give it text", path.display()));
}

#[test]
fn unfinished_writer_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    {
        let mut writer = RowWriter::create(&out).unwrap();
        writer.write(&genprompt_core::Row::new("a", "x")).unwrap();
    }
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "staging file must be removed");
}

#[test]
fn invalid_utf8_names_file_line_and_column_and_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    std::fs::write(&path, b"{\"text\":\"a\",\"label\":\"x\"}\r\n\n{\"text\":\"caf\xe9\",\"label\":\"x\"}\n").unwrap();
    let err = read_rows(&path).unwrap_err();
    assert!(err.is_bad_input(), "{err:?}");
    assert_eq!(err.to_string(), format!("{}:3:13: invalid UTF-8 (byte 0xe9); save the file as UTF-8", path.display()));
}

#[test]
fn crlf_and_a_missing_final_newline_are_read() {
    let (_dir, path) = write("{\"text\":\"a\",\"label\":\"x\"}\r\n{\"text\":\"b\",\"label\":\"y\"}");
    let rows: Vec<_> = RowReader::open(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|(line, row)| (*line, row.text.as_str())).collect::<Vec<_>>(), [(1, "a"), (2, "b")]);
}

#[test]
fn a_text_file_is_replaced_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("README.md");
    write_text_atomic(&path, "# one\n").unwrap();
    write_text_atomic(&path, "# two\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# two\n");
    // A folder in the way: an error naming the file, and no staging file left behind.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    let err = write_text_atomic(&blocked, "x").unwrap_err();
    assert!(err.to_string().contains("blocked"), "{err}");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

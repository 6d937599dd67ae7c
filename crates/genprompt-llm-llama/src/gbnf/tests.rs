use serde_json::json;

use super::*;

#[test]
fn a_gene_list_becomes_an_object_with_a_bounded_array_of_strings() {
    let schema = genprompt_llm::schema::string_list("genes", 1, 5, 30);
    let grammar = from_schema(&schema).unwrap();
    let head: Vec<&str> = grammar.lines().take(3).collect();
    assert_eq!(
        head,
        [
            "root ::= root-r",
            r#"root-genes-r ::= "[" ws ("\"" char{0,30} "\"") ("," ws ("\"" char{0,30} "\"")){0,4} ws "]""#,
            r#"root-r ::= "{" ws "\"genes\"" ws ":" ws root-genes-r ws "}""#,
        ]
    );
    assert!(grammar.ends_with(PRIMITIVES));
}

#[test]
fn array_bounds_map_to_repetitions() {
    let array = |bounds: Value| {
        let mut schema = json!({"type": "array", "items": {"type": "integer"}});
        schema.as_object_mut().unwrap().extend(bounds.as_object().unwrap().clone());
        from_schema(&schema).unwrap().lines().nth(1).unwrap().to_string()
    };
    assert_eq!(array(json!({})), r#"root-r ::= "[" ws (integer ("," ws integer)*)? ws "]""#);
    assert_eq!(array(json!({"maxItems": 3})), r#"root-r ::= "[" ws (integer ("," ws integer){0,2})? ws "]""#);
    assert_eq!(array(json!({"minItems": 2})), r#"root-r ::= "[" ws integer ("," ws integer){1,} ws "]""#);
    assert_eq!(array(json!({"maxItems": 0})), r#"root-r ::= "[" ws "]""#);
    let err = from_schema(&json!({"type": "array", "items": {}, "minItems": 3, "maxItems": 1})).unwrap_err();
    assert_eq!(err, "$: maxItems is below minItems");
}

#[test]
fn enums_constants_and_scalars_are_literal_alternatives() {
    let schema = json!({"type": "object", "properties": {
        "mood": {"enum": ["calm", "say \"hi\"\n"]},
        "n": {"type": ["integer", "null"]},
        "ok": {"type": "boolean"},
        "v": {"const": 1.5},
        "name": {"type": "string", "maxLength": 40},
    }});
    let grammar = from_schema(&schema).unwrap();
    let root = grammar.lines().nth(1).unwrap();
    assert!(root.contains(r#""\"mood\"" ws ":" ws ("\"calm\"" | "\"say \\\"hi\\\"\\n\"")"#), "{root}");
    assert!(root.contains(r#""\"n\"" ws ":" ws (integer | null)"#), "{root}");
    assert!(root.contains(r#""\"ok\"" ws ":" ws boolean"#), "{root}");
    assert!(root.contains(r#""\"v\"" ws ":" ws "1.5""#), "{root}");
    assert!(root.contains(r#""\"name\"" ws ":" ws ("\"" char{0,40} "\"")"#), "{root}");
}

#[test]
fn nested_names_stay_unique_and_valid() {
    let schema = json!({"type": "object", "properties": {
        "a b": {"type": "object", "properties": {"x": {"type": "string"}}},
        "a-b": {"type": "object", "properties": {"y": {"type": "string"}}},
    }});
    let grammar = from_schema(&schema).unwrap();
    let names: Vec<&str> = grammar.lines().filter_map(|line| line.split(" ::= ").next()).collect();
    assert!(names.contains(&"root-a-b-r") && names.contains(&"root-a-b-r2"), "{names:?}");
    assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
}

#[test]
fn unsupported_constructs_are_refused_with_their_place() {
    let err = from_schema(&json!({"type": "object", "properties": {"x": {"anyOf": []}}})).unwrap_err();
    assert_eq!(err, "$.x: `anyOf` is not supported by the embedded model's grammar");
    assert_eq!(from_schema(&json!({})).unwrap_err(), "$: the schema names no type");
    assert_eq!(from_schema(&json!({"type": "array"})).unwrap_err(), "$: an array schema needs `items`");
    assert_eq!(from_schema(&json!({"type": "date"})).unwrap_err(), "$: unknown type `date`");
}

#[test]
fn bounds_too_large_for_llama_cpp_or_crossed_are_refused() {
    let huge = json!({"type": "array", "items": {"type": "string"}, "maxItems": u64::MAX});
    assert!(from_schema(&huge).unwrap_err().contains("maxItems above 4096 is too large"));
    let long = json!({"type": "string", "minLength": 5000});
    assert!(from_schema(&long).unwrap_err().contains("minLength above 4096"));
    let crossed = json!({"type": "string", "minLength": 5, "maxLength": 2});
    assert_eq!(from_schema(&crossed).unwrap_err(), "$: maxLength is below minLength");
    assert!(from_schema(&json!({"type": "string", "maxLength": 4096})).is_ok());
}

#[test]
fn an_anchored_pattern_becomes_the_string_grammar() {
    let schema = json!({"type": "string", "pattern": "^<e>[a-c]{1,3}</e>(x|yz)?$"});
    let grammar = from_schema(&schema).unwrap();
    let root = grammar.lines().next().unwrap();
    assert!(root.starts_with(r#"root ::= ("\"" "#) && root.ends_with(r#" "\"")"#), "{root}");
    assert!(root.contains(r#"([a-c]){1,3}"#), "{root}");
    assert!(root.contains(r#""</e>""#) && root.contains(r#"("x" | "yz")))?"#), "{root}");
    assert!(!root.contains("char*"), "an anchored pattern adds nothing around it: {root}");
}

#[test]
fn an_unanchored_pattern_allows_any_text_around_it() {
    let grammar = from_schema(&json!({"type": "string", "pattern": "<e>"})).unwrap();
    assert_eq!(grammar.lines().next().unwrap(), r#"root ::= ("\"" char* "<e>" char* "\"")"#);
}

#[test]
fn pattern_classes_never_produce_what_json_escapes() {
    let grammar = from_schema(&json!({"type": "string", "pattern": "^[^<]*$"})).unwrap();
    let root = grammar.lines().next().unwrap();
    assert!(root.contains(r#"([\x20-\x21\x23-\x3B\x3D-\x5B\x5D-\x7E\x80-\U0010FFFF])*"#), "{root}");
    // A literal quote is written as JSON writes it.
    let grammar = from_schema(&json!({"type": "string", "pattern": "^say \"hi\"$"})).unwrap();
    assert!(grammar.lines().next().unwrap().contains(r#""say \\\"hi\\\"""#), "{grammar}");
}

#[test]
fn patterns_the_grammar_cannot_hold_are_refused() {
    let refused = |schema: Value| from_schema(&schema).unwrap_err();
    assert!(refused(json!({"type": "string", "pattern": r"^\bword$"})).contains("look-around"));
    assert!(refused(json!({"type": "string", "pattern": "a(b"})).contains("not a regular expression"));
    assert!(refused(json!({"type": "string", "pattern": "^a$", "maxLength": 3})).contains("bound the pattern"));
    assert!(refused(json!({"type": "string", "pattern": "^[\"\\\\]$"})).contains("escapes"));
    assert!(refused(json!({"type": "string", "pattern": "^a{5000}$"})).contains("repeats more than"));
}

//! A string schema's `pattern` as GBNF: how a relation task makes the embedded model write both
//! entity tags inside the `text` field instead of hoping it does.
//!
//! The pattern is parsed by `regex-syntax` (the `regex` crate's parser) and its syntax tree is
//! written out as grammar rules over the JSON text of the string. Supported: literals, classes,
//! groups, alternation, repetition and the `^`/`$` anchors; other look-arounds (word boundaries,
//! multi-line anchors) are refused. An unanchored side matches any text, as JSON Schema's
//! search semantics say. Classes and `.` never produce a quote, a backslash or a control
//! character, so a pattern-constrained string holds no escapes and its JSON text is its value.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};

/// The GBNF expression of a JSON string whose value matches `pattern`; `max_repeat` bounds a
/// repetition's count (see `MAX_REPEAT`).
pub(super) fn string(pattern: &str, max_repeat: u64, path: &str) -> Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|err| format!("{path}: pattern {pattern:?} is not a regular expression: {err}"))?;
    let properties = hir.properties();
    let anchored = Anchors {
        start: properties.look_set_prefix().contains(Look::Start),
        end: properties.look_set_suffix().contains(Look::End),
    };
    let body = Writer { anchored, max_repeat, path }.expr(&hir)?;
    let (head, tail) = (if anchored.start { "" } else { " char*" }, if anchored.end { "" } else { "char* " });
    Ok(format!(r#"("\""{head} {body} {tail}"\"")"#))
}

#[derive(Clone, Copy)]
struct Anchors {
    start: bool,
    end: bool,
}

struct Writer<'a> {
    anchored: Anchors,
    max_repeat: u64,
    path: &'a str,
}

impl Writer<'_> {
    fn expr(&self, hir: &Hir) -> Result<String, String> {
        let path = self.path;
        Ok(match hir.kind() {
            HirKind::Empty => r#""""#.to_string(),
            HirKind::Literal(literal) => {
                let text =
                    std::str::from_utf8(&literal.0).map_err(|_| format!("{path}: pattern has a non-UTF-8 literal"))?;
                // The JSON text of the literal, as a GBNF literal.
                let json = serde_json::Value::String(text.to_string()).to_string();
                super::quote(&json[1..json.len() - 1])
            }
            HirKind::Class(Class::Unicode(class)) => class_expr(class, path)?,
            HirKind::Class(Class::Bytes(_)) => return Err(format!("{path}: pattern has a byte class")),
            // Anchors only where the whole pattern is anchored: elsewhere they would need a
            // grammar that looks around, which GBNF has not.
            HirKind::Look(Look::Start) if self.anchored.start => r#""""#.to_string(),
            HirKind::Look(Look::End) if self.anchored.end => r#""""#.to_string(),
            HirKind::Look(look) => {
                return Err(format!("{path}: pattern anchor or look-around {look:?} is not supported by the grammar"));
            }
            HirKind::Repetition(repetition) => {
                let sub = self.expr(&repetition.sub)?;
                let (min, max) = (u64::from(repetition.min), repetition.max.map(u64::from));
                if max.unwrap_or(min) > self.max_repeat || min > self.max_repeat {
                    return Err(format!("{path}: pattern repeats more than {} times", self.max_repeat));
                }
                match (min, max) {
                    (0, None) => format!("({sub})*"),
                    (1, None) => format!("({sub})+"),
                    (0, Some(1)) => format!("({sub})?"),
                    (min, None) => format!("({sub}){{{min},}}"),
                    (min, Some(max)) if min == max => format!("({sub}){{{min}}}"),
                    (min, Some(max)) => format!("({sub}){{{min},{max}}}"),
                }
            }
            HirKind::Capture(capture) => format!("({})", self.expr(&capture.sub)?),
            HirKind::Concat(parts) => {
                format!("({})", parts.iter().map(|part| self.expr(part)).collect::<Result<Vec<_>, _>>()?.join(" "))
            }
            HirKind::Alternation(parts) => {
                format!("({})", parts.iter().map(|part| self.expr(part)).collect::<Result<Vec<_>, _>>()?.join(" | "))
            }
        })
    }
}

/// A character class without the characters a JSON string must escape.
fn class_expr(class: &ClassUnicode, path: &str) -> Result<String, String> {
    let mut allowed = ClassUnicode::new([
        ClassUnicodeRange::new('\u{20}', '\u{21}'),
        ClassUnicodeRange::new('\u{23}', '\u{5B}'),
        ClassUnicodeRange::new('\u{5D}', '\u{7E}'),
        ClassUnicodeRange::new('\u{80}', '\u{10FFFF}'),
    ]);
    allowed.intersect(class);
    if allowed.ranges().is_empty() {
        return Err(format!("{path}: a pattern class holds only characters a JSON string escapes"));
    }
    let mut out = String::from("[");
    for range in allowed.ranges() {
        out.push_str(&class_char(range.start()));
        if range.end() != range.start() {
            out.push('-');
            out.push_str(&class_char(range.end()));
        }
    }
    out.push(']');
    Ok(out)
}

/// A character inside a GBNF class: alphanumerics as they are, anything else escaped, so that
/// `]`, `-`, `^` and `\` never change the class's meaning.
fn class_char(c: char) -> String {
    match u32::from(c) {
        _ if c.is_ascii_alphanumeric() => c.to_string(),
        n if n <= 0xFF => format!("\\x{n:02X}"),
        n if n <= 0xFFFF => format!("\\u{n:04X}"),
        n => format!("\\U{n:08X}"),
    }
}

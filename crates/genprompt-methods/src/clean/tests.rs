use super::*;

fn check(raw: &str, expected: Result<&str, Rejection>) {
    let got = clean_reply(raw, Cleaning::Clean, "billing", "customer message");
    assert_eq!(got.as_deref().map_err(|r| *r), expected, "raw reply: {raw:?}");
}

#[test]
fn cleaning_cases() {
    check("I was charged twice for order 1234.", Ok("I was charged twice for order 1234."));
    check("Here is a new customer message:\n\"Why was I billed twice?\"", Ok("Why was I billed twice?"));
    check("Sure! Here's one:\nMy invoice is wrong.\nCategory: billing", Ok("My invoice is wrong."));
    check("Text: The refund never arrived.", Ok("The refund never arrived."));
    check("Customer message: Please cancel the charge.", Ok("Please cancel the charge."));
    check("  \n ", Err(Rejection::Empty));
    check("\"\"", Err(Rejection::Empty));
    check("🙂🙂🙂", Err(Rejection::Empty));
    check("I'm sorry, but I can't help with that.", Err(Rejection::Refusal));
    check("As an AI, I cannot write that.", Err(Rejection::Refusal));
    check("Sorry to bother you, but I was charged twice.", Ok("Sorry to bother you, but I was charged twice."));
    check(
        "Here is my complaint: the bill doubled this month and nobody answers.",
        Ok("Here is my complaint: the bill doubled this month and nobody answers."),
    );
}

#[test]
fn what_the_quickstart_run_of_the_05b_kept_before() {
    // Rows of `genprompt quickstart` on Qwen2.5-Coder-0.5B that the cleaning let through.
    check("Order 30577.", Err(Rejection::TooFewWords));
    // And one the 1.5B opened with a horizontal rule.
    check(
        "---\nHi there! My order 30577 arrived with the mug in pieces.",
        Ok("Hi there! My order 30577 arrived with the mug in pieces."),
    );
    check(
        "Can I change the shipping address on an order I placed an hour ago?\nThe tone of this customer support message is polite.",
        Ok("Can I change the shipping address on an order I placed an hour ago?"),
    );
    check(
        "Hello! I'm sorry, I couldn't find a suitable customer support message for that category. Could you please provide me with more information?",
        Err(Rejection::Refusal),
    );
    let definition = "problems using the website or app: login, password reset, errors, crashes, pages not loading";
    assert!(repeats_definition(
        "Technical support for the website or app: login, password reset, errors, crashes, pages not loading.",
        definition
    ));
    assert!(!repeats_definition("The app crashes at login and the password reset page is not loading.", definition));
    assert!(!repeats_definition("refunds twice", "refunds"), "a one-word definition is too short to tell");
}

#[test]
fn raw_mode_keeps_text_and_uses_the_papers_substrings() {
    let raw = |text| clean_reply(text, Cleaning::Raw, "billing", "customer message");
    assert_eq!(raw("Here is one:\nBilled twice."), Ok("Here is one:\nBilled twice.".to_string()));
    assert_eq!(raw("sorry to bother you"), Err(Rejection::Refusal));
    assert_eq!(raw(" "), Err(Rejection::Empty));
}

#[test]
fn entity_tags_must_be_exactly_the_required_pairs() {
    use genprompt_core::RelationSpec;
    let pair = RelationSpec { tags: ["chemical".into(), "protein".into()] };
    let same = RelationSpec { tags: ["entity".into(), "entity".into()] };
    let check = |text: &str, spec: &RelationSpec| check_entity_tags(text, spec).is_ok();
    assert!(check("<chemical>Aspirin</chemical> strongly inhibits <protein>COX-1</protein> in platelets.", &pair));
    assert!(check("<protein>COX-1</protein> is blocked by <chemical>aspirin</chemical> at low doses", &pair));
    assert!(!check("<chemical>Aspirin</chemical> inhibits COX-1.", &pair), "one entity missing");
    assert!(!check("<chemical>A</chemical> and <chemical>B</chemical> bind <protein>P</protein>", &pair));
    assert!(!check("<chemical></chemical> binds <protein>P</protein>", &pair), "empty entity");
    assert!(!check("<chemical>A binds <protein>P</protein></chemical>", &pair), "nested");
    let clause = "<chemical>ibogalin</chemical> enhances <protein>by stimulating the release of norepinephrine, which can con</protein>duce vasodilation.";
    assert!(!check(clause, &pair), "a clause is not a name");
    let long_name = "<chemical>gamma aminobutyric acid type A receptor modulator</chemical> blocks <protein>P</protein> in rat cells.";
    assert!(check(long_name, &pair), "names of up to 8 words stay");
    assert!(!check("<chemical>A</chemical binds <protein>P</protein>", &pair), "broken closing tag");
    assert!(check("<entity>John</entity> has worked for <entity>Acme</entity> since 1990.", &same));
    assert!(!check("<entity>John</entity> works for Acme.", &same));
}

#[test]
fn duplicate_key_ignores_case_and_spacing() {
    assert_eq!(duplicate_key(" Billed  Twice\n"), duplicate_key("billed twice"));
}

#[test]
fn a_relation_text_is_a_sentence_about_its_entities() {
    use genprompt_core::RelationSpec;
    let pair = RelationSpec { tags: ["chemical".into(), "protein".into()] };
    let check = |text: &str| check_entity_tags(text, &pair);
    // Issue 13: a bare pair of tagged names passed the tag count.
    assert_eq!(check("<chemical>LY 293284</chemical>\n<protein>5-HT(1A)</protein>"), Err(Rejection::TooFewWords));
    assert_eq!(check("<chemical>Aspirin</chemical> inhibits <protein>COX-1</protein>."), Err(Rejection::TooFewWords));
    assert_eq!(check("<chemical>Aspirin</chemical> irreversibly inhibits <protein>COX-1</protein> here."), Ok(()));
    // A ChemProt row the 0.5B wrote: a sentence without tags, then a line of bare tagged names.
    assert_eq!(
        check(
            "VEGF expression rose sharply in the treated breast cancer cells.\n<chemical> VEGF </chemical> <protein> KDR </protein>"
        ),
        Err(Rejection::TagsOutsideSentence)
    );
    assert_eq!(
        check(
            "Treated cells showed that <chemical>aspirin</chemical>\nirreversibly inhibits <protein>COX-1</protein> in platelets."
        ),
        Ok(()),
        "a sentence wrapped over two lines keeps its tags in it"
    );
    let clean = |raw: &str| clean_reply(raw, Cleaning::Clean, "agonist", "sentence");
    assert_eq!(
        clean(
            "To generate synthetic training data for the Protein Chemical Relation extraction task, you can follow these steps:\n1. Pick a chemical\n2. Pick a protein"
        ),
        Err(Rejection::ListScaffolding)
    );
    assert_eq!(
        clean("modifier=\"none\"\nvoice=\"infanteral\"\ntext=\"<chemical>X</chemical> binds <protein>Y</protein>\""),
        Err(Rejection::KeyValue)
    );
    assert_eq!(
        clean("Length: short\nVoice: passive\nSentence: <chemical>X</chemical> binds <protein>Y</protein>."),
        Err(Rejection::KeyValue)
    );
    assert_eq!(
        clean(
            "1. <chemical>X</chemical> binds <protein>Y</protein>.\n2. <chemical>Z</chemical> binds <protein>W</protein>."
        ),
        Err(Rejection::ListScaffolding)
    );
    assert_eq!(
        clean("The <chemical>drug</chemical> **potently** activates <protein>D2</protein>."),
        Err(Rejection::Markdown)
    );
    assert_eq!(
        clean("To generate data for this task, we pick <chemical>X</chemical> and <protein>Y</protein>."),
        Err(Rejection::Chatter)
    );
    let kept = "[3H]<chemical>Dopamine</chemical> binding to <protein>D2</protein> was reduced by half.";
    assert_eq!(clean(kept).as_deref(), Ok(kept));
}

#[test]
fn what_small_instruct_models_wrap_around_a_text() {
    // Replies of Qwen2.5-Coder 0.5B/1.5B quoted in issues 13 and 14.
    check(
        "Certainly. Example 2: Order says shipped but nothing arrived.",
        Ok("Order says shipped but nothing arrived."),
    );
    check("Sure! New customer message: My card was declined twice.", Ok("My card was declined twice."));
    check("**Text:** My card was declined twice.", Ok("My card was declined twice."));
    check(
        "### Customer Support Message for Category: billing\nMy card was declined twice.",
        Ok("My card was declined twice."),
    );
    check("```\nMy card was declined twice.\n```", Ok("My card was declined twice."));
    check(
        "My card was declined twice.\n\nNote: this message inherits the tone of Example 1.",
        Ok("My card was declined twice."),
    );
    check("### Customer Support Message for Category: technical", Err(Rejection::PromptEcho));
    check("**Understanding the Role**: We need to craft a message about billing.", Err(Rejection::Chatter));
    check(
        "Unfortunately, I'm unable to provide complete customer support messages for this category.",
        Err(Rejection::Refusal),
    );
    check("Sorry, I Can't provide a tweet with none due to the ethical nature of this task", Err(Rejection::Refusal));
    check("Example 1: Charged twice. Example 2: Refund missing.", Err(Rejection::PromptEcho));
    check("Genotype: segmented A1, tone angry", Err(Rejection::PromptEcho));
    check("The quick brown fox jumps over the lazy dog. #billing", Err(Rejection::Placeholder));
    check("Hello, I was charged twice.\nBest regards,\n[Your Name]", Err(Rejection::Placeholder));
    check("Downregulation of {protein} by {chemical} leads to more of it.", Err(Rejection::Placeholder));
    check(
        "The 4-{[2-(4-chlorophenyl)]} salt was charged twice.",
        Ok("The 4-{[2-(4-chlorophenyl)]} salt was charged twice."),
    );
    check("{\"text\": \"charged twice\"}", Err(Rejection::KeyValue));
    check("我被收取了两次费用，请退款。", Err(Rejection::OtherScript));
    check("I hope this helps! My bill is wrong.", Err(Rejection::Chatter));
    check(
        "Customer: Can I pay with PayPal instead of a card?\nNew Customer Support Message:\n- **Inheritance from Example 1**: Length: 4 words",
        Ok("Can I pay with PayPal instead of a card?"),
    );
    check(
        "The customer message can be generated by following the example below.\n**Subject: Order**\n**Message:**\nI ordered a kettle last week and got a bill twice.",
        Ok("I ordered a kettle last week and got a bill twice."),
    );
    check("technical_swap_msg1", Err(Rejection::TooFewWords));
    check(
        "Subject: Inquiry about Payment Methods Dear [Client Name], Now, I want to know about my account.",
        Err(Rejection::Placeholder),
    );
    check(
        "Dear team, Write a new customer support message for the category 'billing'. It means charges.",
        Err(Rejection::PromptEcho),
    );
    check("We apologize for the inconvenience, please let me know if you need any help.", Err(Rejection::Chatter));
    // Real messages that look a bit like the above stay.
    check("Sure enough, the parcel never came.", Ok("Sure enough, the parcel never came."));
    check("I can't log in since the update.", Ok("I can't log in since the update."));
    check(
        "I need help as an aid worker abroad: my card is blocked.",
        Ok("I need help as an aid worker abroad: my card is blocked."),
    );
    check("#refund still waiting!! day 12", Ok("#refund still waiting!! day 12"));
    check("Hi,\nmy phone app crashes at checkout.\nThanks", Ok("Hi,\nmy phone app crashes at checkout.\nThanks"));
    check("Crème brûlée maker arrived broken, refund please", Ok("Crème brûlée maker arrived broken, refund please"));
    // Text kinds outside ASCII never split a character (lowercasing can change byte lengths).
    let got = clean_reply("İSTANBUL MESAJI: kargo gelmedi", Cleaning::Clean, "teslimat", "i̇stanbul mesajı");
    assert!(got.is_ok(), "{got:?}");
}

#[test]
fn near_copies_of_a_shown_text_are_found_by_words() {
    let parent =
        "Hi, I was charged twice for order #48213. Could you please check and refund the duplicate payment? Thanks!";
    assert!(is_near_copy(
        "Hi, I was charged twice for order #48214. Could you please check and refund the duplicate payment?",
        parent
    ));
    assert!(is_near_copy(&parent.to_uppercase(), parent));
    assert!(!is_near_copy("I was charged twice for my last order; please refund one payment.", parent));
    assert!(!is_near_copy("", parent));
}

#[test]
fn every_rejection_has_its_own_counter() {
    let all = [
        Rejection::Refusal,
        Rejection::Empty,
        Rejection::Duplicate,
        Rejection::NearDuplicate,
        Rejection::CopiesParent,
        Rejection::MissingEntityTags,
        Rejection::CuratedOut,
        Rejection::LlmError,
        Rejection::Chatter,
        Rejection::PromptEcho,
        Rejection::Markdown,
        Rejection::ListScaffolding,
        Rejection::KeyValue,
        Rejection::Placeholder,
        Rejection::OtherScript,
        Rejection::TooFewWords,
        Rejection::TagsOutsideSentence,
        Rejection::CutByGrammar,
    ];
    let mut counts = RejectionCounts::default();
    for (idx, rejection) in all.iter().enumerate() {
        for _ in 0..=idx {
            rejection.count(&mut counts);
        }
    }
    // Surplus replies (steady schedule) are counted by the run, not by a rejection.
    let got: Vec<usize> = counts.by_reason().iter().filter(|(name, _)| *name != "surplus").map(|(_, n)| *n).collect();
    assert_eq!(got, (1..=18).collect::<Vec<_>>());
    assert_eq!(counts.total(), (1..=18).sum::<usize>());
    assert_eq!(counts.top()[0], ("cut_by_grammar", 18));
}

#[test]
fn a_prefix_that_changes_length_when_lowercased_is_cut_at_the_right_place() {
    // 'İ' is 2 bytes and lowercases to 3; the Kelvin sign is 3 bytes and lowercases to 1.
    let got = clean_reply("İstanbul haberi:Derbi bitti artık.", Cleaning::Clean, "spor", "İstanbul haberi");
    assert_eq!(got.as_deref(), Ok("Derbi bitti artık."));
    // Cutting by the lowercase's length would land inside 'é' here.
    assert_eq!(clean_reply("İ:é bien sûr", Cleaning::Clean, "x", "İ").as_deref(), Ok("é bien sûr"));
    let got = clean_reply("\u{212a}elvin note: it is cold.", Cleaning::Clean, "x", "kelvin note");
    assert_eq!(got.as_deref(), Ok("it is cold."));
}

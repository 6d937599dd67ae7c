use crate::{TextStats, text_stats, tokenize};

#[test]
fn tokenizer_keeps_runs_of_letters_and_digits_lowercased() {
    assert_eq!(
        tokenize("Don't stop! COVID-19, naïve ÉCOLE: Straße_2 -- ΣΟΦΟΣ 🙂 ok"),
        ["don", "t", "stop", "covid", "19", "naïve", "école", "straße", "2", "σοφος", "ok"]
    );
    assert!(tokenize("  ...!? ").is_empty());
    assert!(tokenize("").is_empty());
}

#[test]
fn text_stats_match_hand_computation() {
    // Tokens: [the cat sat] [the cat ran] []: 6 tokens, vocabulary {the, cat, sat, ran}.
    // Bigrams (within texts only, "sat the" does not count): the-cat, cat-sat, the-cat, cat-ran:
    // 3 distinct of 4. Trigrams: the-cat-sat, the-cat-ran: 2 of 2.
    let stats = text_stats(&["The cat sat.", "the CAT ran", ""]);
    assert_eq!(
        stats,
        TextStats {
            n_texts: 3,
            n_tokens: 6,
            vocabulary: 4,
            distinct_1: 4.0 / 6.0,
            distinct_2: 0.75,
            distinct_3: 1.0,
            mean_length_tokens: 2.0,
        }
    );
}

#[test]
fn text_stats_count_repeats() {
    // "a a a a": 1 type of 4 tokens; bigram a-a 1 of 3; trigram a-a-a 1 of 2.
    // "b": no bigram or trigram. Totals: 5 tokens, 2 types, bigrams 1/3, trigrams 1/2.
    let stats = text_stats(&["a a a a", "B"]);
    assert_eq!((stats.n_tokens, stats.vocabulary), (5, 2));
    assert_eq!((stats.distinct_1, stats.distinct_2, stats.distinct_3), (0.4, 1.0 / 3.0, 0.5));
    assert_eq!(stats.mean_length_tokens, 2.5);
}

#[test]
fn text_stats_of_nothing_are_zero() {
    let zero = TextStats {
        n_texts: 0,
        n_tokens: 0,
        vocabulary: 0,
        distinct_1: 0.0,
        distinct_2: 0.0,
        distinct_3: 0.0,
        mean_length_tokens: 0.0,
    };
    assert_eq!(text_stats(&[]), zero);
    assert_eq!(text_stats(&["", "?!"]), TextStats { n_texts: 2, ..zero });
    // One word: one unigram, no bigrams or trigrams.
    let one = text_stats(&["Hello"]);
    assert_eq!((one.vocabulary, one.distinct_1, one.distinct_2, one.distinct_3), (1, 1.0, 0.0, 0.0));
}

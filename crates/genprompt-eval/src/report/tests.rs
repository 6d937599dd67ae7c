use genprompt_embed::Embeddings;

use crate::{
    IntrinsicConfig, Probe, ProbeConfig, aps, chamfer, cmd, intrinsic_report, label_faithfulness, remote_clique,
    self_bleu, text_stats, top_k_similarity,
};

fn synthetic() -> (Embeddings, Vec<usize>, Vec<&'static str>) {
    let embeddings =
        Embeddings::from_rows_normalised(2, &[[1.0, 0.1], [0.9, 0.3], [0.1, 1.0], [0.2, 0.8], [0.8, 0.3]]).unwrap();
    let texts = vec!["a red cat", "a red dog", "the blue sky", "a blue sea", "a red sky"];
    (embeddings, vec![0, 0, 1, 1, 1], texts)
}

#[test]
fn report_gathers_the_individual_measures() {
    let (embeddings, labels, texts) = synthetic();
    let real = Embeddings::from_rows_normalised(2, &[[1.0, 0.0], [0.95, 0.05], [0.0, 1.0], [0.1, 0.9]]).unwrap();
    let probe = Probe::train(&real, &[0, 0, 1, 1], 2, &ProbeConfig::standard()).unwrap();
    // Small limits so that chamfer and self-BLEU sample.
    let config =
        IntrinsicConfig { chamfer_max_queries: 3, self_bleu_hypotheses: 4, top_k: 2, ..IntrinsicConfig::standard() };
    let report = intrinsic_report(&embeddings, &labels, &texts, Some((&real, &probe)), &config).unwrap();

    assert_eq!((report.n_synthetic, report.n_real), (5, Some(4)));
    assert_eq!(report.aps, aps(&embeddings, &labels));
    assert_eq!(report.remote_clique, remote_clique(&embeddings));
    assert_eq!(report.chamfer, chamfer(&embeddings, 3, 0));
    assert_eq!(report.chamfer_n_queries, 3);
    assert_eq!(report.cmd, cmd(&embeddings, &real, 5).unwrap());
    assert_eq!(report.top_k_similarity, top_k_similarity(&real, &embeddings, 2).unwrap());
    assert_eq!(report.label_faithfulness, Some(label_faithfulness(&probe, &embeddings, &labels).unwrap()));
    assert_eq!(report.label_faithfulness, Some(0.8), "(0.8, 0.3) is labelled 1 but lies on the side of 0");
    assert_eq!(report.text, text_stats(&texts));
    assert_eq!(report.self_bleu, self_bleu(&texts, 4, 0));
    assert_eq!(report.self_bleu_n_hypotheses, 4);
    assert!(report.cmd.is_some() && report.top_k_similarity.is_some() && report.self_bleu.is_some());
}

#[test]
fn report_without_real_data_leaves_the_comparisons_out() {
    let (embeddings, labels, texts) = synthetic();
    let report = intrinsic_report(&embeddings, &labels, &texts, None, &IntrinsicConfig::standard()).unwrap();
    assert_eq!(
        (report.n_real, report.cmd, report.top_k_similarity, report.label_faithfulness),
        (None, None, None, None)
    );
    assert_eq!((report.chamfer_n_queries, report.self_bleu_n_hypotheses), (5, 5), "below the limits, every row");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cmd"], serde_json::Value::Null);
    assert_eq!(json["text"]["vocabulary"], 8);
    assert!(json["aps"]["overall"].is_f64() && json["chamfer"].is_f64());
}

#[test]
fn report_of_an_empty_dataset_is_all_none_and_zero() {
    let report = intrinsic_report(&Embeddings::new(2), &[], &[], None, &IntrinsicConfig::standard()).unwrap();
    assert_eq!((report.remote_clique, report.chamfer, report.self_bleu), (None, None, None));
    assert_eq!((report.chamfer_n_queries, report.self_bleu_n_hypotheses, report.text.n_tokens), (0, 0, 0));
    assert_eq!(report.aps.overall, None);
}

#[test]
fn report_refuses_texts_labels_or_real_rows_that_do_not_match_as_errors() {
    let (embeddings, labels, texts) = synthetic();
    let config = IntrinsicConfig::standard();
    let n = embeddings.len();
    let err = intrinsic_report(&embeddings, &labels, &texts[..4], None, &config).unwrap_err();
    assert_eq!(err, crate::EvalError::TextCountMismatch { n_rows: n, n_texts: 4 });
    let err = intrinsic_report(&embeddings, &labels[..1], &texts, None, &config).unwrap_err();
    assert_eq!(err, crate::EvalError::LengthMismatch { n_rows: n, n_row_labels: 1 });
    let three = Embeddings::from_flat(3, vec![1.0, 0.0, 0.0]).unwrap();
    let err = crate::intrinsic_report_with(&embeddings, &labels, &texts, Some(&three), None, &config).unwrap_err();
    assert_eq!(err, crate::EvalError::DimensionMismatch { synthetic: 2, real: 3 });
}

//! These tests need the real default encoder: they fail (never skip) when it is not provisioned.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::adamw::{FusedAdamW, TableRows};
use crate::network::{HEAD_BIAS, HEAD_WEIGHT, Network};
use crate::{FinetuneConfig, FinetuneError, TextClassifier};

fn model_dir() -> PathBuf {
    let home = genprompt_models::Home::from_env()
        .unwrap_or_else(|e| panic!("{e}; run `genprompt models fetch` to get the encoder"));
    home.require(&genprompt_models::DEFAULT_ENCODER)
        .unwrap_or_else(|e| panic!("fine-tuning tests need the real encoder (run `genprompt models fetch`): {e}"))
}

/// 24 short texts, 8 per label: 0 sport, 1 cooking, 2 weather.
const TOPICS: [(&str, usize); 24] = [
    ("The striker scored twice in the final minutes.", 0),
    ("Our team lost the match on penalties.", 0),
    ("The goalkeeper saved a brilliant free kick.", 0),
    ("She won the marathon in record time.", 0),
    ("The coach benched his best player tonight.", 0),
    ("Fans cheered as the tennis champion served an ace.", 0),
    ("The basketball season starts next week.", 0),
    ("He trains at the stadium every morning.", 0),
    ("Stir the sauce until it thickens.", 1),
    ("Bake the bread for forty minutes.", 1),
    ("Chop the onions and fry them in butter.", 1),
    ("Add a pinch of salt to the soup.", 1),
    ("Whisk the eggs with sugar and flour.", 1),
    ("Roast the chicken with garlic and lemon.", 1),
    ("Simmer the beans slowly in a pot.", 1),
    ("Season the steak before grilling it.", 1),
    ("Heavy rain is expected tomorrow afternoon.", 2),
    ("A cold front brings snow to the hills.", 2),
    ("Sunny skies and mild temperatures this weekend.", 2),
    ("Strong winds will batter the coast tonight.", 2),
    ("The forecast warns of thunderstorms.", 2),
    ("Fog will clear by late morning.", 2),
    ("Temperatures drop below freezing overnight.", 2),
    ("Humidity stays high with scattered showers.", 2),
];

fn topics() -> (Vec<&'static str>, Vec<usize>) {
    TOPICS.iter().copied().unzip()
}

fn train_recording(
    texts: &[&str],
    labels: &[usize],
    n_labels: usize,
    config: &FinetuneConfig,
) -> (TextClassifier, Vec<f32>) {
    let mut losses = Vec::new();
    let mut on_step = |step: usize, n_steps: usize, loss: f32| {
        assert_eq!(step, losses.len() + 1, "steps count from 1 without gaps");
        assert!(step <= n_steps, "step {step} beyond n_steps {n_steps}");
        losses.push(loss);
    };
    let classifier = TextClassifier::train(&model_dir(), texts, labels, n_labels, config, &mut on_step)
        .unwrap_or_else(|e| panic!("training failed: {e}"));
    (classifier, losses)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn row(tensor: &Tensor, idx: usize) -> Vec<f32> {
    tensor.get(idx).unwrap().to_vec1::<f32>().unwrap()
}

/// Guards candle-nn's fused LayerNorm and softmax, which record no backward op: through them the
/// encoder would silently stay frozen while the head trains.
#[test]
fn one_backward_pass_reaches_every_bert_parameter() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let network = Network::load(&model_dir(), 3, 128, &[], &mut rng).unwrap();
    let texts = ["A short one.", "A somewhat longer sentence, so the batch has padding in it.", "Third."];
    let mut batch = network.tokenize(&texts).unwrap();
    let (ids, mask) = network.batch_tensors(&mut batch).unwrap();
    assert!(mask.to_vec2::<u32>().unwrap()[0].contains(&0), "the batch should contain padding");

    let logits = network.logits(&ids, &mask).unwrap();
    let targets = Tensor::new(&[0u32, 1, 2], &Device::Cpu).unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
    let grads = loss.backward().unwrap();

    // MiniLM: 3 embedding tables + LayerNorm (5), and 16 tensors in each of 6 layers.
    assert_eq!(network.vars.len(), 101 + 2, "trainable tensors: 101 BERT + 2 head");
    let without: Vec<&str> = network
        .vars
        .iter()
        .filter(|(_, var)| {
            grads.get(var).is_none_or(|grad| grad.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() == 0.0)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(without.is_empty(), "{} of {} tensors got no gradient: {without:?}", without.len(), network.vars.len());
    let names: Vec<&str> = network.vars.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.contains(&"encoder.layer.0.attention.self.query.weight") && names.ends_with(&[HEAD_WEIGHT, HEAD_BIAS])
    );
}

/// Training looks the word vectors up outside the graph and applies their gradient to the table
/// row by row (`adamw::TableRows`): those rows, added up per token, must be the table's gradient
/// through the whole pass, and the row step must move the table exactly as the dense step does.
#[test]
fn word_rows_carry_the_word_tables_gradient_and_step_like_the_dense_update() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let network = Network::load(&model_dir(), 2, 128, &[], &mut rng).unwrap();
    let mut batch = network.tokenize(&["The the same word twice.", "Another text."]).unwrap();
    let (ids, mask) = network.batch_tensors(&mut batch).unwrap();
    let targets = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    let table_idx = network.word_table_index().expect("a word table");
    let table = network.vars[table_idx].1.clone();

    let dense_loss = candle_nn::loss::cross_entropy(&network.logits(&ids, &mask).unwrap(), &targets).unwrap();
    let dense_grads = dense_loss.backward().unwrap();
    let dense = dense_grads.get(table.as_tensor()).expect("the table's gradient").clone();

    let words = Var::from_tensor(&network.lookup_words(&ids).unwrap()).unwrap();
    let loss = candle_nn::loss::cross_entropy(&network.logits_train_words(&words, &mask).unwrap(), &targets).unwrap();
    let grads = loss.backward().unwrap();
    assert!(grads.get(table.as_tensor()).is_none(), "the lookup must stay outside the graph");
    let rows = grads.get(words.as_tensor()).expect("the words' gradient").flatten_to(1).unwrap();
    let flat_ids = ids.flatten_all().unwrap();
    let scattered = dense.zeros_like().unwrap().index_add(&flat_ids, &rows, 0).unwrap();
    assert!(dense.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    let diff = max_abs_diff(&dense, &scattered);
    assert!(diff < 1e-6, "row gradients differ from the table's gradient by {diff}");

    // Two steps each way, from the same weights; the second step also moves untouched rows.
    let params = candle_nn::ParamsAdamW { lr: 1e-2, weight_decay: 0.01, ..Default::default() };
    let dense_var = Var::from_tensor(&table.as_tensor().copy().unwrap()).unwrap();
    let rows_var = Var::from_tensor(&table.as_tensor().copy().unwrap()).unwrap();
    let mut dense_opt = FusedAdamW::new(vec![dense_var.clone()], params.clone());
    let mut rows_opt = FusedAdamW::new(vec![rows_var.clone()], params);
    let id_list = flat_ids.to_vec1::<u32>().unwrap();
    for _ in 0..2 {
        let probe = (dense_var.as_tensor() * &dense).unwrap().sum_all().unwrap().backward().unwrap();
        // `probe` holds d(sum(w * dense))/dw = dense for `dense_var`: the dense gradient.
        dense_opt.step(&probe, None).unwrap();
        let empty = Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap().sum_all().unwrap().backward().unwrap();
        rows_opt.step(&empty, Some(TableRows { var: 0, ids: &id_list, grads: &rows })).unwrap();
    }
    let diff = max_abs_diff(dense_var.as_tensor(), rows_var.as_tensor());
    assert!(diff < 1e-7, "the row step differs from the dense step by {diff}");
    assert!(max_abs_diff(dense_var.as_tensor(), table.as_tensor()) > 1e-3, "the steps should move the table");
}

#[test]
fn fine_tuning_lowers_the_training_loss_and_fits_the_training_texts() {
    let (texts, labels) = topics();
    let config = FinetuneConfig { learning_rate: 1e-4, epochs: 4, batch_size: 8, ..FinetuneConfig::standard() };
    let (classifier, losses) = train_recording(&texts, &labels, 3, &config);
    assert_eq!(losses.len(), 4 * 3);
    let first = losses[0];
    let last_epoch = losses[9..].iter().sum::<f32>() / 3.0;
    println!("losses per step: {losses:?}");
    println!("first step {first:.4}, final-epoch mean {last_epoch:.4}");
    assert!(last_epoch < 0.5 * first, "final-epoch mean loss {last_epoch} is not clearly below the first {first}");

    let predictions = classifier.predict(&texts).unwrap();
    let n_right = predictions.iter().zip(&labels).filter(|(p, l)| p == l).count();
    println!("training texts right: {n_right} of {}", texts.len());
    assert!(n_right >= 21, "only {n_right} of {} training texts right: {predictions:?}", texts.len());
    assert_eq!(classifier.n_labels(), 3);
    assert_eq!(classifier.predict(&[]).unwrap(), Vec::<usize>::new());
}

#[test]
fn special_tokens_stay_whole_get_new_rows_and_train() {
    let special_tokens = vec!["<e1>".to_owned(), "</e1>".to_owned()];
    let dir = model_dir();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let network = Network::load(&dir, 2, 128, &special_tokens, &mut rng).unwrap();
    let base = network.tokenizer.get_vocab_size(false);
    assert_eq!(base, 30522, "MiniLM's WordPiece vocabulary");
    let open = network.tokenizer.token_to_id("<e1>").expect("<e1> is in the vocabulary");
    let close = network.tokenizer.token_to_id("</e1>").expect("</e1> is in the vocabulary");
    assert!(open as usize >= base && close as usize >= base && open != close, "ids {open}, {close}; base {base}");
    let encoding = network.tokenize(&["the <e1>aspirin</e1> helps"]).unwrap().remove(0);
    let tokens = encoding.get_tokens();
    assert!(tokens.contains(&"<e1>".to_owned()) && tokens.contains(&"</e1>".to_owned()), "{tokens:?}");
    assert_eq!(encoding.get_ids().iter().filter(|&&id| id == open).count(), 1, "{tokens:?}");

    // New rows start at the mean of the original ones.
    let word = word_embeddings(&network);
    assert_eq!(word.dims2().unwrap().0, base + 2);
    let mean = word.narrow(0, 0, base).unwrap().mean(0).unwrap();
    for id in [open, close] {
        let diff = max_abs_diff(&word.get(id as usize).unwrap(), &mean);
        assert!(diff < 1e-6, "row {id} differs from the mean embedding by {diff}");
    }
    drop(network);

    let texts = [
        "<e1>Aspirin</e1> inhibits platelet aggregation.",
        "The <e1>kinase</e1> is activated by the drug.",
        "Patients took <e1>ibuprofen</e1> for pain.",
        "The weather was <e1>sunny</e1> all day.",
        "We walked along the <e1>river</e1> bank.",
        "The <e1>train</e1> arrived late again.",
    ];
    let labels = [0, 0, 0, 1, 1, 1];
    let config = FinetuneConfig { epochs: 1, batch_size: 3, special_tokens, ..FinetuneConfig::standard() };
    let (classifier, losses) = train_recording(&texts, &labels, 2, &config);
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|loss| loss.is_finite()), "{losses:?}");
    assert_eq!(classifier.predict(&texts).unwrap().len(), texts.len());
    let trained = word_embeddings(&classifier.network);
    assert_ne!(row(&trained, open as usize), row(&mean.unsqueeze(0).unwrap(), 0), "the <e1> row did not train");
}

fn word_embeddings(network: &Network) -> Tensor {
    let (_, var) = network.vars.iter().find(|(name, _)| name.ends_with("word_embeddings.weight")).unwrap();
    var.as_tensor().copy().unwrap()
}

#[test]
fn the_same_seed_gives_the_same_classifier() {
    let (texts, labels) = topics();
    let (train_texts, train_labels) = (&texts[..12], &labels[..12]);
    let held_out = &texts[12..];
    // Labels 0 and 1 only in the first 12 texts.
    let config = FinetuneConfig { epochs: 1, batch_size: 4, rng_seed: 7, ..FinetuneConfig::standard() };
    let (first, first_losses) = train_recording(train_texts, train_labels, 2, &config);
    let (second, second_losses) = train_recording(train_texts, train_labels, 2, &config);
    assert_eq!(first_losses, second_losses);
    assert_eq!(first.predict(held_out).unwrap(), second.predict(held_out).unwrap());
    assert_eq!(logits_of(&first, held_out), logits_of(&second, held_out));

    let other_seed = FinetuneConfig { rng_seed: 8, ..config };
    let (_, other_losses) = train_recording(train_texts, train_labels, 2, &other_seed);
    assert_ne!(first_losses, other_losses, "another seed should change the head and the order");
}

fn logits_of(classifier: &TextClassifier, texts: &[&str]) -> Vec<Vec<f32>> {
    let mut batch = classifier.network.tokenize(texts).unwrap();
    let (ids, mask) = classifier.network.batch_tensors(&mut batch).unwrap();
    let logits = classifier.network.logits(&ids, &mask).unwrap();
    assert_eq!(logits.dims2().unwrap(), (texts.len(), classifier.n_labels()));
    logits.to_vec2().unwrap()
}

fn train_err(dir: &Path) -> FinetuneError {
    let texts = ["one", "two"];
    let result = TextClassifier::train(dir, &texts, &[0, 1], 2, &FinetuneConfig::standard(), &mut |_, _, _| {});
    match result {
        Ok(_) => panic!("training from {} should fail", dir.display()),
        Err(e) => e,
    }
}

fn assert_load_error(error: FinetuneError, path: &Path, says: &str) {
    let message = error.to_string();
    assert!(matches!(error, FinetuneError::Load { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message:?} does not name {}", path.display());
    assert!(message.contains(says), "{message:?} does not say {says:?}");
}

#[test]
fn missing_or_broken_model_folders_are_clear_errors() {
    let real = model_dir();
    let scratch = tempfile::tempdir().unwrap();

    let missing = scratch.path().join("no-such-model");
    assert_load_error(train_err(&missing), &missing, "genprompt models fetch");

    let partial = scratch.path().join("partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::copy(real.join("config.json"), partial.join("config.json")).unwrap();
    assert_load_error(train_err(&partial), &partial.join("tokenizer.json"), "file is missing");

    std::fs::copy(real.join("tokenizer.json"), partial.join("tokenizer.json")).unwrap();
    std::fs::write(partial.join("model.safetensors"), b"not weights").unwrap();
    assert_load_error(train_err(&partial), &partial.join("model.safetensors"), "not a safetensors file");

    std::fs::write(partial.join("config.json"), b"{").unwrap();
    assert_load_error(train_err(&partial), &partial.join("config.json"), "not a BERT config");

    // Bad data and config are reported before any loading.
    let bad_labels =
        TextClassifier::train(&missing, &["a", "b"], &[0, 2], 2, &FinetuneConfig::standard(), &mut |_, _, _| {});
    assert!(matches!(bad_labels, Err(FinetuneError::Data(ref m)) if m.contains("label 2")), "{:?}", bad_labels.err());
    let zero_batch = FinetuneConfig { batch_size: 0, ..FinetuneConfig::standard() };
    let bad_config = TextClassifier::train(&missing, &["a", "b"], &[0, 1], 2, &zero_batch, &mut |_, _, _| {});
    assert!(matches!(bad_config, Err(FinetuneError::Config(_))), "{:?}", bad_config.err());
}

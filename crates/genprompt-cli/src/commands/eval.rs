//! `genprompt eval`: train on one JSONL dataset, test on another, print the scores.

use anyhow::Result;
use genprompt::{Agreement, CancelToken, Classifier, EvalConfig, FinetuneOptions, Mix};

use crate::args::{ClassifierArg, EvalArgs, MixArg};
use crate::convert;
use crate::progress::Progress;
use crate::tables::{agreement_table, per_label_table, scores_table};

pub fn run(args: EvalArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let config = EvalConfig {
        train: args.train.into(),
        test: args.test.into(),
        real_train: args.real_train.map(Into::into),
        mix: match args.mix {
            MixArg::Synthetic => Mix::Synthetic,
            MixArg::Real => Mix::Real,
            MixArg::Fusion => Mix::Fusion,
            MixArg::FusionEqual => Mix::FusionEqual,
        },
        classifier: match args.classifier {
            ClassifierArg::Probe => Classifier::Probe,
            ClassifierArg::Finetune => Classifier::Finetune(FinetuneOptions {
                epochs: args.epochs,
                learning_rate: args.learning_rate,
                batch_size: args.batch_size,
                max_length: args.max_length,
            }),
        },
        runs: args.runs,
        seed: args.seed,
        out: args.out.clone(),
        agreement: args.agreement_field.map(|field| Agreement { field, thresholds: args.agreement_thresholds.clone() }),
        backends: convert::backends(&args.models),
    };
    let metrics = genprompt::evaluate(&config, progress, cancel)?;
    println!("{}", scores_table(&[(metrics.classifier, &metrics)]));
    println!("{}", per_label_table(&metrics));
    if let Some(curve) = &metrics.agreement {
        println!("{}", agreement_table(curve, metrics.n_test));
    }
    if let Some(out) = &args.out {
        println!("metrics: {}", genprompt::metrics_path(out).display());
    }
    Ok(())
}

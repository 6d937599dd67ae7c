//! Flags to library settings, one function per group of flags.

use genprompt::{
    Backends, CacheMode, Cleaning, EncoderConfig, GeneSchedule, GenerationSettings, GeneticVariant, LlmConfig, Method,
    ParentSelection, PoolUpdate, ScheduleKind, StoreConfig,
};

use crate::args::{
    AblationArg, GenerationArgs, GenesScheduleArg, Method as MethodArg, ModelArgs, ParentsArg, PoolUpdateArg,
    PostprocessArg, ScheduleArg, StoreArgs,
};

pub fn backends(args: &ModelArgs) -> Backends {
    Backends::default()
        .with_llm(LlmConfig {
            gguf: args.llm.clone(),
            threads: args.threads,
            base_url: args.base_url.first().cloned(),
            more_base_urls: args.base_url.iter().skip(1).cloned().collect(),
            model: args.model.clone(),
            api_key_env: args.api_key_env.clone(),
            max_in_flight: args.max_in_flight,
            price_input: args.price_input,
            price_output: args.price_output,
        })
        .with_encoder(EncoderConfig {
            dir: args.encoder.clone(),
            base_url: args.encoder_base_url.clone(),
            model: args.encoder_model.clone(),
            api_key_env: args.api_key_env.clone(),
            max_in_flight: args.max_in_flight,
        })
}

pub fn store(args: &StoreArgs) -> StoreConfig {
    StoreConfig {
        cache_dir: args.cache_dir.clone(),
        cache: match (args.no_cache, args.refresh_cache) {
            (true, _) => CacheMode::Off,
            (false, true) => CacheMode::Refresh,
            (false, false) => CacheMode::Use,
        },
        retry_failed: args.retry_failed,
        max_failure_share: args.max_failure_share,
    }
}

pub fn settings(args: &GenerationArgs) -> GenerationSettings {
    GenerationSettings {
        parents: match args.parents {
            ParentsArg::Active => ParentSelection::Active,
            ParentsArg::Argmax => ParentSelection::Argmax,
            ParentsArg::Random => ParentSelection::Random,
        },
        genes_schedule: match args.genes_schedule {
            GenesScheduleArg::Paper => GeneSchedule::RandomPartition,
            GenesScheduleArg::Code => GeneSchedule::Alternating,
        },
        variant: match args.ablation {
            None => GeneticVariant::Full,
            Some(AblationArg::NoMutation) => GeneticVariant::NoMutation,
            Some(AblationArg::WordAsGene) => GeneticVariant::WordAsGene,
        },
        pool_update: match args.pool_update {
            PoolUpdateArg::Batch => PoolUpdate::PerBatch,
            PoolUpdateArg::Offspring => PoolUpdate::PerOffspring,
        },
        cleaning: match args.postprocess {
            PostprocessArg::Clean => Cleaning::Clean,
            PostprocessArg::Raw => Cleaning::Raw,
        },
        near_duplicates: (!args.keep_near_duplicates).then_some(args.near_duplicates),
        batch_size: args.batch_size,
        schedule: args.schedule.map(|schedule| match schedule {
            ScheduleArg::Steady => ScheduleKind::Steady,
            ScheduleArg::Generational => ScheduleKind::Generational,
        }),
        window: args.window,
        temperature: args.temperature,
        top_p: args.top_p,
        min_p: args.min_p,
        repeat_penalty: args.repeat_penalty,
        paper_sampling: args.paper_sampling,
        structured: args.structured,
        max_tokens: args.max_tokens,
    }
}

pub fn method(method: MethodArg) -> Method {
    match method {
        MethodArg::Genetic => Method::Genetic,
        MethodArg::Simprompt => Method::SimPrompt,
        MethodArg::Attrprompt => Method::AttrPrompt,
        MethodArg::Zeroshot => Method::ZeroShot,
        MethodArg::Fewshot => Method::FewShot,
        MethodArg::Curated => Method::Curated,
    }
}

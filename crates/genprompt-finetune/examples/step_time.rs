use std::time::Instant;
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let base = "The committee met on Tuesday to review the annual budget, discuss the new hiring plan, and vote on several proposals submitted by regional offices across the country";
    let owned: Vec<String> = (0..64).map(|i| format!("{i} {base} {base} {base} {base} {base} number {i}.")).collect();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    let labels: Vec<usize> = (0..64).map(|i| i % 2).collect();
    let config = genprompt_finetune::FinetuneConfig { epochs: 1, ..genprompt_finetune::FinetuneConfig::standard() };
    let started = Instant::now();
    let mut last = Instant::now();
    let mut on_step = |step: usize, n: usize, loss: f32| {
        eprintln!(
            "step {step}/{n} loss {loss:.4} {:.2}s (since start {:.1}s)",
            last.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        last = Instant::now();
    };
    genprompt_finetune::TextClassifier::train(&dir, &texts, &labels, 2, &config, &mut on_step).unwrap();
}

//! Development aid: behaviour model scores per simulated client kind.
use sentinel_models::anomaly::sessions::{kind_vectors, normal_vectors, ClientKind};
use sentinel_models::anomaly::{BehaviourModelConfig, BehaviourScorer};
use sentinel_models::features::behaviour::N;

fn main() {
    let t = std::time::Instant::now();
    let forest = BehaviourScorer::from_config(&BehaviourModelConfig::default());
    eprintln!("fit {:?}", t.elapsed());
    let heur = BehaviourScorer::Heuristic;
    let normal = normal_vectors(99, 1000);
    let share = |s: &BehaviourScorer, v: &[[f32; N]]| {
        v.iter().filter(|f| s.score(f) >= 0.5).count() as f32 / v.len() as f32
    };
    println!(
        "normal n={} forest fpr={:.4} heuristic fpr={:.4}",
        normal.len(),
        share(&forest, &normal),
        share(&heur, &normal)
    );
    for k in ClientKind::NORMAL {
        let v = kind_vectors(k, 7, 200, 0);
        println!(
            "{:>20} n={:6} forest={:.4} heuristic={:.4}",
            k.name(),
            v.len(),
            share(&forest, &v),
            share(&heur, &v)
        );
    }
    for k in ClientKind::HOSTILE {
        let v = kind_vectors(k, 5, 50, 10);
        println!(
            "{:>20} n={:6} forest={:.4} heuristic={:.4}",
            k.name(),
            v.len(),
            share(&forest, &v),
            share(&heur, &v)
        );
        if std::env::args().any(|a| a == "-v") {
            for f in v.iter().step_by(v.len() / 5 + 1) {
                println!("    {:?} -> {:.3}", f, forest.score(f));
            }
        }
    }
}

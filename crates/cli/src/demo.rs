//! `causalgen demo`: the end-to-end demonstration on built-in defaults. Today it walks
//! the three rungs of Pearl's ladder on the bundled fight-scene network with exact
//! answers, and draws what seeing and doing look like as contact sheets of generated
//! scenes; the image models of later releases plug in here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bayesnet::examples::fight_scene;
use bayesnet::{counterfactual, mpe, Assignment, Engine, MonotoneCoupling, Network, Query};
use clap::Args;
use scenes::fight::{write_preview, FightOptions};

use crate::bn::{assignment, variables};
use crate::report;

#[derive(Args)]
pub struct DemoArgs {
    /// Print machine-readable JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Folder for the pictures.
    #[arg(long, default_value = "demo-output")]
    out: PathBuf,
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let net = fight_scene()?;
    let engine = Engine::new(net.clone());
    let pairs = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let reaction = variables(&net, &pairs(&["reaction"]))?;
    let skill = variables(&net, &pairs(&["actor_attack"]))?;
    let attack = assignment(&net, &pairs(&["action=Attack"]))?;

    let steps = [
        ("Rung 1, association: P(reaction)", Query { targets: reaction.clone(), ..Query::default() }),
        (
            "Rung 1, association: P(actor_attack | action=Attack) — seeing an attack says the actor is strong",
            Query { targets: skill.clone(), evidence: attack.clone(), ..Query::default() },
        ),
        (
            "Rung 2, intervention: P(actor_attack | do(action=Attack)) — forcing it says nothing",
            Query { targets: skill, intervention: attack.clone(), ..Query::default() },
        ),
        (
            "Rung 2, intervention: P(reaction | do(action=Attack))",
            Query { targets: reaction.clone(), intervention: attack.clone(), ..Query::default() },
        ),
    ];
    let mut json = Vec::new();
    for (title, query) in &steps {
        let answer = engine.answer(query)?;
        if args.json {
            json.push(serde_json::json!({"question": title, "answer": report::answer_json(&net, &answer)}));
        } else {
            println!("== {title}\n{}", report::answer_table(&net, &answer));
        }
    }

    let seen = assignment(&net, &pairs(&["action=Walk", "reaction=Idle"]))?;
    let cf = counterfactual(&net, &seen, &attack, &reaction, &MonotoneCoupling)?;
    let title = "Rung 3, counterfactual: the actor walked and the reactor stood idle; had the actor attacked, how would the reactor have reacted?";
    let best = mpe(
        &net,
        &assignment(&net, &pairs(&["reaction=Dying"]))?,
        bayesnet::elimination::DEFAULT_TABLE_LIMIT,
    )?;
    if args.json {
        json.push(serde_json::json!({"question": title, "answer": report::answer_json(&net, &cf)}));
        json.push(serde_json::json!({"question": "MPE given reaction=Dying", "answer": report::explanation_json(&net, &best)}));
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("== {title}\n{}", report::answer_table(&net, &cf));
        println!(
            "== Most probable explanation of a dying reactor\n{}",
            report::explanation_table(&net, &best, "MPE")
        );
        println!(
            "Every number above is exact. Try `causalgen bn query --help` on your own BIF files."
        );
    }
    draw_scenes(&net, &args.out, &attack)
}

/// Contact sheets of scenes sampled as observed and under do(action=Attack): the same
/// seed, so only the intervention's consequences differ.
fn draw_scenes(net: &Network, out: &Path, attack: &Assignment) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, intervention) in [
        ("observed.png", Assignment::new()),
        ("do_attack.png", attack.clone()),
    ] {
        let path = out.join(name);
        let options = FightOptions {
            intervention,
            ..FightOptions::default()
        };
        write_preview(&path, net, &options, 16)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

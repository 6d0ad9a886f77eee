//! Networks bundled with the crate, so demos and tests run without any file at hand.

use crate::error::Result;
use crate::io::parse_bif;
use crate::network::Network;

/// BIF text of the fight-scene network of the deep causal generative modelling tutorial.
pub const FIGHT_SCENE_BIF: &str = include_str!("../networks/fight_scene.bif");

/// The fight-scene causal network: actor and reactor (Satyr/Golem) with types, hidden
/// strength/defense/attack, the actor's action and the reactor's reaction.
pub fn fight_scene() -> Result<Network> {
    parse_bif(FIGHT_SCENE_BIF, "fight_scene.bif")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Engine, Query};

    /// The reference values the tutorial's network documents (computed with pgmpy).
    #[test]
    fn fight_scene_reference_values() {
        let net = fight_scene().unwrap();
        let reaction = net.var("reaction").unwrap();
        let engine = Engine::new(net.clone());
        let p = engine
            .answer(&Query {
                targets: vec![reaction],
                ..Query::default()
            })
            .unwrap();
        for (got, want) in p.marginals[0]
            .1
            .iter()
            .zip([0.1378, 0.1991, 0.5900, 0.0730])
        {
            assert!((got - want).abs() < 5e-5, "{got} vs {want}");
        }
        let attack = net.assignment(&[("action", "Attack")]).unwrap();
        let done = engine
            .answer(&Query {
                targets: vec![reaction],
                intervention: attack.clone(),
                ..Query::default()
            })
            .unwrap();
        for (got, want) in done.marginals[0]
            .1
            .iter()
            .zip([0.2932, 0.3145, 0.2958, 0.0964])
        {
            assert!((got - want).abs() < 5e-5, "{got} vs {want}");
        }
        let skill = net.var("actor_attack").unwrap();
        let seen = engine
            .answer(&Query {
                targets: vec![skill],
                evidence: attack.clone(),
                ..Query::default()
            })
            .unwrap();
        assert!((seen.marginals[0].1[1] - 0.6229).abs() < 5e-5);
        let forced = engine
            .answer(&Query {
                targets: vec![skill],
                intervention: attack,
                ..Query::default()
            })
            .unwrap();
        assert!((forced.marginals[0].1[1] - 0.3928).abs() < 5e-5);
    }
}

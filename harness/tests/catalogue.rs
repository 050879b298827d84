//! The catalogue of deliberately broken implementations against the verdict table
//! (`harness/reference/flaws.yaml`): the reference fails nothing; every flaw fails exactly the (property,
//! scenario) pairs and expectations its row lists, its own property with the evidence the row
//! names; no run is an error; and every property of the catalogue has a flaw the corpus catches.

use credsim_reference::catalogue::{self, Table};
use scenarios::vocab::PropertyId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flaw_gets_exactly_its_row_of_the_verdict_table() {
    mock_kit::install_crypto_provider();
    let table = Table::committed().unwrap();
    // The table names every flaw once, and only flaws that exist.
    let names: Vec<&str> = table.flaws.iter().map(|r| r.flaw.as_str()).collect();
    let known: Vec<&str> = credsim_reference::Flaw::ALL
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(
        names, known,
        "harness/reference/flaws.yaml lists the flaws of Flaw::ALL, in order"
    );
    for row in &table.flaws {
        assert!(
            PropertyId::ALL.iter().any(|p| p.as_str() == row.property),
            "{}: unknown property {}",
            row.flaw,
            row.property
        );
        assert!(
            !row.evidence.is_empty(),
            "{}: no evidence to look for",
            row.flaw
        );
    }

    let (scenarios, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:#?}");
    let outcomes = catalogue::run(&scenarios, 2, &[], &mut credsim::report::Silent)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), table.flaws.len() + 1);
    let mut differences = Vec::new();
    for o in &outcomes {
        let name = o.flaw.map_or("the reference", |f| f.as_str());
        for d in o.observed.diff(o.flaw.and_then(|f| table.row(f))) {
            differences.push(format!("{name}: {d}"));
        }
    }
    assert!(
        differences.is_empty(),
        "differences from harness/reference/flaws.yaml (review, then `credsim flaws --print-table`):\n{}",
        differences.join("\n")
    );

    // The mutation score: every property has a catalogued flaw, and the corpus catches them all.
    let scores = catalogue::score(&table, &outcomes);
    assert_eq!(scores.len(), PropertyId::ALL.len());
    for s in &scores {
        assert!(
            !s.catalogued.is_empty(),
            "no flaw is catalogued for {}",
            s.property
        );
        assert_eq!(
            s.caught, s.catalogued,
            "{}: the corpus misses a flaw",
            s.property
        );
    }
}

#[test]
fn a_difference_from_the_table_is_named() {
    let table = Table::committed().unwrap();
    let row = table.row(credsim_reference::Flaw::CacheByRegistry).unwrap();
    // Observed: the flaw's property passes everywhere, another one fails, an expectation too.
    let observed = catalogue::Observed {
        fails: [(
            "project-isolation".to_owned(),
            ["happy-path".to_owned()].into(),
        )]
        .into(),
        expectations: ["tenant-missing".to_owned()].into(),
        errors: vec!["shared-issuer: world failed".into()],
        evidence: Default::default(),
    };
    let diff = observed.diff(Some(row));
    let text = diff.join("\n");
    assert!(
        text.contains("error: shared-issuer: world failed"),
        "{text}"
    );
    assert!(
        text.contains("project-isolation fails in happy-path, which the table does not list"),
        "{text}"
    );
    assert!(
        text.contains(
            "cache-partitioning passes in interleaved-projects, where the table says it fails"
        ),
        "{text}"
    );
    assert!(
        text.contains("the expectations of tenant-missing fail, which the table does not list"),
        "{text}"
    );
    assert!(
        text.contains("cache-partitioning never fails: the flaw is not caught"),
        "{text}"
    );
    // The reference must fail nothing.
    assert!(!observed.diff(None).is_empty());
    assert!(catalogue::Observed::default().diff(None).is_empty());
}

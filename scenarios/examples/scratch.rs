#![allow(clippy::print_stdout)]
fn main() {
    for p in std::env::args().skip(1) {
        match scenarios::load_file(std::path::Path::new(&p)) {
            Ok(l) => {
                println!(
                    "OK {} steps={} warnings:",
                    l.scenario.name,
                    l.scenario.steps.len()
                );
                for w in l.warnings {
                    println!("{w}");
                }
            }
            Err(e) => println!("{e}"),
        }
    }
}

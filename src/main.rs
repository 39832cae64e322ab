//! The `boss` binary: a thin shell over the library, which owns parsing, running and error output.

fn main() {
    std::process::exit(boss::run(std::env::args_os()));
}

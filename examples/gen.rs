fn main() {
    let args: Vec<String> = std::env::args().collect();
    switchyard::bench::generate(args[1].parse().unwrap(), std::path::Path::new(&args[2])).unwrap();
}

from bench.queue import main

main()

from faults.suite import main

main()

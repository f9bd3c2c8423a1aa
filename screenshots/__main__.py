from screenshots.command import main

main()

from distillguard.cli.app import main

main()

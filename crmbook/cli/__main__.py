from crmbook.cli import main

main()

from katya_tui.cli import main

main()

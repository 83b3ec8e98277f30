package io.vitrim.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

@Command(name = "completion", mixinStandardHelpOptions = true,
        header = "Print a bash/zsh completion script for vitrim.",
        description = "Print a completion script for bash and zsh (zsh through bashcompinit), generated from the command definitions: subcommands, options and --reduce method names.",
        footer = {"", "Examples:",
            "  vitrim completion > ~/.vitrim-completion   # then in ~/.bashrc or ~/.zshrc:",
            "      source ~/.vitrim-completion",
            "      (zsh first: autoload -U +X bashcompinit && bashcompinit)"})
final class CompletionCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.print(AutoComplete.bash("vitrim", spec.commandLine().getParent()));
        out.flush();
        return 0;
    }
}

using TimeoutBudget.Cli;

var colour = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null &&
             !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);
return CliApp.Run(args, Console.Out, Console.Error, colour);

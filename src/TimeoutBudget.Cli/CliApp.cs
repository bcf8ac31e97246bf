using System.CommandLine;

namespace TimeoutBudget.Cli;

/// <summary>The <c>timeout-budget</c> command: <c>check</c> validates plans for CI, <c>draw</c> renders one as a nested timeline.</summary>
public static class CliApp
{
    /// <summary>Exit code: every plan is aligned, or the drawing was written.</summary>
    public const int Success = 0;

    /// <summary>Exit code: at least one plan has a violation.</summary>
    public const int Violations = 1;

    /// <summary>Exit code: bad arguments, or a plan that cannot be read.</summary>
    public const int Unusable = 2;

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where diagnostics and progress go.</param>
    /// <param name="colour">Whether to colour text output (a terminal that is not redirected).</param>
    /// <returns>The exit code: 0, 1 or 2.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool colour = false)
    {
        var plans = new Argument<FileInfo[]>("plans") { Description = "Plan files (JSON).", Arity = ArgumentArity.OneOrMore };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output format: text, json or sarif.",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "sarif");
        var check = new Command("check", "Validate timeout plans: every layer's worst case must fit in its parent minus margin and reserve. Exit 0 aligned, 1 violations, 2 unreadable.")
        {
            plans,
            format,
        };
        check.SetAction(result => CheckCommand.Run(result.GetValue(plans)!, result.GetValue(format)!, output, error, colour));

        var plan = new Argument<FileInfo>("plan") { Description = "The plan file (JSON)." };
        var outputFile = new Option<FileInfo>("--output", "-o") { Description = "The picture to write: .svg or .html.", Required = true };
        var draw = new Command("draw", "Draw a plan as a nested timeline: each layer a bar inside its parent, margins and reserves shaded, retries as attempts, violations in red.")
        {
            plan,
            outputFile,
        };
        draw.SetAction(result => DrawCommand.Run(result.GetValue(plan)!, result.GetValue(outputFile)!, output, error));

        var root = new RootCommand("timeout-budget: check and draw the timeout plan of a whole stack.") { check, draw };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                error.WriteLine(parseError.Message);
            }

            error.WriteLine("Usage: timeout-budget check <plan.json>... [--format text|json|sarif]  |  timeout-budget draw <plan.json> -o <plan.svg|plan.html>");
            return Unusable;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}

using System.Globalization;
using System.Text;

namespace TimeoutBudget.RealCode;

internal enum Outcome
{
    Found,
    OtherRule,
    Cited,
    Missed,
    Clean,
    FalsePositive,
    Excluded,
    MissingMirror,
    NoProject,
}

/// <summary>How one case came out, with what the analyzers said near its line.</summary>
internal sealed record CaseResult(Case Case, Outcome Outcome, IReadOnlyList<Finding> Near, ProjectResult? Project, string? Detail)
{
    /// <summary>Findings of the expected rule anchored elsewhere whose message cites the case's line (shown only when nothing is near).</summary>
    public IReadOnlyList<Finding> Citing { get; init; } = [];
}

/// <summary>The scoring rules, kept in one place so the README can quote them.</summary>
internal static class Scoring
{
    /// <summary>
    /// How far (in lines, either way) a diagnostic may land from the labelled line and still count. A case cites the line of
    /// the call or statement, while a rule may anchor on the start of a wrapped invocation, the assignment that set the
    /// timeout, or the object creation one or two lines up; two lines absorbs that without reaching the next statement.
    /// </summary>
    public const int LineTolerance = 2;

    /// <summary>The rules the corpus labels: a finding of one of these near an ALIGNED case is a false positive.</summary>
    public static readonly IReadOnlySet<string> ScoredRules = new HashSet<string>(StringComparer.Ordinal) { "TB0001", "TB0002", "TB0004", "TB0005", "TB0008" };

    /// <summary>Whether a finding is the labelled rule; TB0008 is TB0001 or TB0002 with a value read from appsettings.</summary>
    public static bool IsRule(Finding finding, string rule) =>
        string.Equals(finding.Id, rule, StringComparison.OrdinalIgnoreCase)
        || (finding.Id == "TB0008" && rule is "TB0001" or "TB0002");

    public static IReadOnlyList<Finding> Near(Case @case, IEnumerable<Finding> findings) =>
        findings.Where(f => string.Equals(f.Path, @case.Path, StringComparison.Ordinal) && Math.Abs(f.Line - @case.Line) <= LineTolerance).ToList();

    /// <summary>
    /// Findings elsewhere whose message cites the case's line ("set at HelpService.cs:72"): a rule may anchor on the
    /// statement that set the inner timeout while the case cites the call that both timeouts govern.
    /// </summary>
    public static IReadOnlyList<Finding> Citing(Case @case, IEnumerable<Finding> findings)
    {
        var name = System.IO.Path.GetFileName(@case.Path);
        return findings.Where(f => IsRule(f, @case.Rule) && Citations(f.Message, name).Any(line => Math.Abs(line - @case.Line) <= LineTolerance)).ToList();
    }

    private static IEnumerable<int> Citations(string message, string fileName)
    {
        for (var at = message.IndexOf(fileName + ":", StringComparison.Ordinal); at >= 0; at = message.IndexOf(fileName + ":", at + 1, StringComparison.Ordinal))
        {
            var start = at + fileName.Length + 1;
            var end = start;
            while (end < message.Length && char.IsAsciiDigit(message[end]))
            {
                end++;
            }

            var before = at == 0 ? ' ' : message[at - 1];
            if (end > start && !char.IsLetterOrDigit(before) && before != '.' && before != '_')
            {
                yield return int.Parse(message.AsSpan(start, end - start), CultureInfo.InvariantCulture);
            }
        }
    }

    public static Outcome Score(Case @case, IReadOnlyList<Finding> near, IReadOnlyList<Finding> citing)
    {
        if (@case.IsExcluded)
        {
            return Outcome.Excluded;
        }

        if (@case.IsAligned || string.Equals(@case.Rule, "none", StringComparison.OrdinalIgnoreCase))
        {
            return near.Any(f => ScoredRules.Contains(f.Id)) ? Outcome.FalsePositive : Outcome.Clean;
        }

        if (near.Any(f => IsRule(f, @case.Rule)))
        {
            return Outcome.Found;
        }

        if (near.Count > 0)
        {
            return Outcome.OtherRule;
        }

        return citing.Count > 0 ? Outcome.Cited : Outcome.Missed;
    }

    public static string Label(Outcome outcome) => outcome switch
    {
        Outcome.Found => "FOUND",
        Outcome.OtherRule => "other TB rule",
        Outcome.Cited => "anchored elsewhere",
        Outcome.Missed => "MISS",
        Outcome.Clean => "ok (no finding)",
        Outcome.FalsePositive => "FALSE POSITIVE",
        Outcome.Excluded => "excluded",
        Outcome.MissingMirror => "missing mirror",
        Outcome.NoProject => "no project",
        _ => outcome.ToString(),
    };
}

/// <summary>The totals printed after the table, computed once for the console and the Markdown file.</summary>
internal sealed class Summary
{
    private static readonly string[] PositiveLabels = ["MISALIGNED", "ABANDONED_WORK", "UNBOUNDED"];

    public Summary(IReadOnlyList<CaseResult> results, AnalyzerRunner runner, TimeSpan wall)
    {
        var lines = new List<string>();
        var scored = results.Where(r => r.Outcome is not (Outcome.Excluded or Outcome.MissingMirror or Outcome.NoProject)).ToList();
        var positives = scored.Where(r => !r.Case.IsAligned && !string.Equals(r.Case.Rule, "none", StringComparison.OrdinalIgnoreCase)).ToList();
        var aligned = scored.Where(r => r.Outcome is Outcome.Clean or Outcome.FalsePositive).ToList();
        lines.Add($"Cases: {results.Count} ({scored.Count} scored, {results.Count(r => r.Outcome == Outcome.Excluded)} excluded, {results.Count(r => r.Outcome == Outcome.MissingMirror)} missing mirror, {results.Count(r => r.Outcome == Outcome.NoProject)} without a project)");
        lines.Add($"Recall (expected rule within ±{Scoring.LineTolerance} lines): {Ratio(positives.Count(r => r.Outcome == Outcome.Found), positives.Count)}; found with a different TB rule: {positives.Count(r => r.Outcome == Outcome.OtherRule)}; expected rule anchored elsewhere but citing the line: {positives.Count(r => r.Outcome == Outcome.Cited)}");
        foreach (var label in PositiveLabels)
        {
            var group = positives.Where(r => string.Equals(r.Case.Expected, label, StringComparison.OrdinalIgnoreCase)).ToList();
            lines.Add($"  {label,-15} {Ratio(group.Count(r => r.Outcome == Outcome.Found), group.Count)}; other TB rule: {group.Count(r => r.Outcome == Outcome.OtherRule)}; anchored elsewhere: {group.Count(r => r.Outcome == Outcome.Cited)}");
        }

        foreach (var rule in positives.Select(r => r.Case.Rule).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var group = positives.Where(r => r.Case.Rule == rule).ToList();
            lines.Add($"  {rule,-15} {Ratio(group.Count(r => r.Outcome == Outcome.Found), group.Count)}");
        }

        lines.Add($"False positives (TB0001/2/4/5/8 within ±{Scoring.LineTolerance} lines of an ALIGNED case): {aligned.Count(r => r.Outcome == Outcome.FalsePositive)} / {aligned.Count} aligned");
        lines.Add($"AD0001 (analyzer exceptions): {runner.AnalyzerExceptions}");
        foreach (var sample in runner.ExceptionSamples)
        {
            lines.Add($"  {sample}");
        }

        var projects = results.Select(r => r.Project).OfType<ProjectResult>().Distinct().ToList();
        lines.Add($"Compilations: {runner.Compilations} ({projects.Sum(p => p.Files):N0} files, {projects.Sum(p => p.CompileErrors):N0} compile errors, {Seconds(TimeSpan.FromTicks(projects.Sum(p => p.Elapsed.Ticks)))} restore+compile+analyze)");
        lines.AddRange(RestoreLines(projects, runner));
        lines.AddRange(AnalyzerTimes(runner));
        lines.Add(CostLine(projects));
        lines.Add($"Wall time: {Seconds(wall)}");
        Lines = lines;
    }

    public IReadOnlyList<string> Lines { get; }

    public static IEnumerable<string> AnalyzerTimes(AnalyzerRunner runner)
    {
        yield return "Analyzer time (summed over compilations, concurrent analysis):";
        foreach (var (name, time) in runner.AnalyzerTime.OrderByDescending(p => p.Value))
        {
            yield return $"  {name,-30} {Seconds(time)}";
        }
    }

    /// <summary>How many compilations restored their packages, why the others did not, and the errors with and without the restore.</summary>
    public static IEnumerable<string> RestoreLines(IReadOnlyList<ProjectResult> projects, AnalyzerRunner runner)
    {
        var restored = projects.Where(p => p.Restore is { Restored: true }).ToList();
        yield return $"Restore: {restored.Count}/{projects.Count} compilations restored ({restored.Count(p => p.Restore!.Status == "restored")} fully, {restored.Count(p => p.Restore!.Status != "restored")} partly), {restored.Sum(p => p.Restore!.PackageAssemblies):N0} package assemblies, restore wall time {Seconds(runner.RestoreTime)}";
        foreach (var failed in projects.Where(p => p.Restore is { Restored: false }))
        {
            yield return $"  not restored: {failed.Project}: {failed.Restore!.Status}";
        }

        var compared = projects.Where(p => p.ErrorsWithoutRestore is not null).ToList();
        if (compared.Count > 0)
        {
            yield return $"Compile errors of the {compared.Count} restored compilations: {compared.Sum(p => p.ErrorsWithoutRestore!.Value):N0} without the restore, {compared.Sum(p => p.CompileErrors):N0} with it";
        }
    }

    /// <summary>Our analyzers' share of the compile: summed analyzer time over summed method-body binding time.</summary>
    public static string CostLine(IReadOnlyList<ProjectResult> projects)
    {
        var compile = TimeSpan.FromTicks(projects.Sum(p => p.CompileTime.Ticks));
        var analyzers = TimeSpan.FromTicks(projects.Sum(p => p.AnalyzerTime.Ticks));
        var share = compile > TimeSpan.Zero ? (100 * analyzers.TotalSeconds / compile.TotalSeconds).ToString("0.00", CultureInfo.InvariantCulture) : "-";
        var wall = TimeSpan.FromTicks(projects.Sum(p => p.AnalysisWallTime.Ticks));
        var overhead = compile > TimeSpan.Zero ? (100 * (wall - compile).TotalSeconds / compile.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture) : "-";
        return $"Compile (binding, GetDiagnostics) {Seconds(compile)}; TB analyzers {Seconds(analyzers)} = {share} % of the compile (summed execution time); compile+analyzers wall {Seconds(wall)} = +{overhead} % over the compile";
    }

    public static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s";

    private static string Ratio(int part, int whole) =>
        whole == 0 ? "0/0" : $"{part}/{whole} = {(100.0 * part / whole).ToString("0.0", CultureInfo.InvariantCulture)} %";
}

/// <summary>The per-case table, for the console and as Markdown.</summary>
internal static class CaseReport
{
    public static void Print(IReadOnlyList<CaseResult> results, Summary summary, TextWriter output)
    {
        output.WriteLine($"{"id",-10} {"label",-15} {"rule",-7} {"result",-20} {"errors",7}  file:line");
        foreach (var result in results)
        {
            var @case = result.Case;
            var errors = result.Project is { } project ? project.CompileErrors.ToString(CultureInfo.InvariantCulture) : "-";
            output.WriteLine($"{@case.Id,-10} {@case.Expected,-15} {@case.Rule,-7} {Scoring.Label(result.Outcome),-20} {errors,7}  {@case.Repo}:{@case.Path}:{@case.Line}");
            if (result.Detail is not null)
            {
                output.WriteLine($"{string.Empty,12}{result.Detail}");
            }

            if (result.Project is { Restore: not null } restoredProject)
            {
                output.WriteLine($"{string.Empty,12}{restoredProject.RestoreLine}");
            }

            foreach (var finding in result.Near)
            {
                output.WriteLine($"{string.Empty,12}{finding.Id} line {finding.Line}: {finding.Message}");
            }

            foreach (var finding in result.Citing)
            {
                output.WriteLine($"{string.Empty,12}{finding.Id} at {finding.Path}:{finding.Line} cites the line: {finding.Message}");
            }
        }

        output.WriteLine();
        foreach (var line in summary.Lines)
        {
            output.WriteLine(line);
        }
    }

    public static string Markdown(IReadOnlyList<CaseResult> results, Summary summary, IEnumerable<string> caseFiles)
    {
        var text = new StringBuilder();
        text.AppendLine("# Analyzer on real code");
        text.AppendLine();
        text.AppendLine($"Generated by `tests/TimeoutBudget.RealCode` from {string.Join(", ", caseFiles.Select(f => $"`{Path.GetFileName(f)}`"))}. A labelled rule is found when it is reported in the file within ±{Scoring.LineTolerance} lines of the case; an ALIGNED case is a false positive when TB0001/2/4/5/8 is reported there (TB0008 counts as TB0001/TB0002). Compile errors are a quality hint: each project is compiled with the packages its own `dotnet restore` brought (where the restore worked), but without MSBuild evaluation or source generators.");
        text.AppendLine();
        text.AppendLine("| id | repo | file:line | label | rule | result | compile errors | restore | diagnostics near the line |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var result in results)
        {
            var @case = result.Case;
            var errors = result.Project is { } project ? $"{project.CompileErrors}{(project.TopErrors.Count > 0 ? " (" + string.Join(", ", project.TopErrors) + ")" : string.Empty)}{(project.ErrorsWithoutRestore is { } before ? $"; {before} without restore" : string.Empty)}" : "-";
            var restore = result.Project?.RestoreLine ?? "-";
            var near = string.Join("<br>", result.Near.Select(f => $"{f.Id} L{f.Line}: {f.Message}").Concat(result.Citing.Select(f => $"{f.Id} at L{f.Line} (cites the line): {f.Message}")).Append(result.Detail ?? string.Empty).Where(s => s.Length > 0));
            text.AppendLine($"| {@case.Id} | {@case.Repo} | `{@case.Path}:{@case.Line}` | {@case.Expected} | {@case.Rule} | {Scoring.Label(result.Outcome)} | {errors} | {Cell(restore)} | {Cell(near)} |");
        }

        text.AppendLine();
        text.AppendLine("## Totals");
        text.AppendLine();
        text.AppendLine("```text");
        foreach (var line in summary.Lines)
        {
            text.AppendLine(line);
        }

        text.AppendLine("```");
        return text.ToString();
    }

    public static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}

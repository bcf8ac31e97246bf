using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace TimeoutBudget.RealCode;

/// <summary>
/// Runs the analyzers on real third-party code read from git mirrors. Case mode scores labelled cases (JSON lines);
/// <c>--repo</c> mode lists every finding in the non-test projects of one mirror for triage. Exit code 0 even on misses
/// (this is a measurement); 2 on usage errors.
/// </summary>
public static partial class Program
{
    private const string Usage = """
        usage: TimeoutBudget.RealCode [--cases FILE]... [--mirrors DIR] [--markdown FILE]
               TimeoutBudget.RealCode --repo OWNER/NAME [--commit SHA] [--mirrors DIR] [--markdown FILE]

          --cases FILE     labelled cases, JSON lines (repeatable). Default: ../shared/dev-corpus/dev-cases.jsonl above the
                           repository root, plus tests/TimeoutBudget.RealCode/corpus/cases.jsonl when it exists.
          --mirrors DIR    where the bare mirrors are (owner+name*). Default: /work/.mirror
          --markdown FILE  also write the report as Markdown.
          --repo OWNER/NAME  whole-repo run: every non-test project of the mirror, every TB finding.
          --commit SHA     commit for --repo (default: the mirror's HEAD).
          --errors N       print the first N compile errors of each compilation (to tell missing packages from harness gaps).
          --no-restore     compile against the harness's own references only (the behaviour before restores).
          --compare        also compile each restored project without its restore and print both error counts.
          --restore-cache DIR  where commits are extracted and restored. Default: /tmp/tb-realcode
          --restore-timeout MIN  limit of one dotnet restore (default 5); a restore that times out falls back.
          --projects REGEX --repo only: compile only the projects whose path matches (e.g. the services of a large repository).
          --budget SEC     --repo only: stop compiling further projects after this much wall time (default 1200).
        """;

    public static int Main(string[] args)
    {
        var caseFiles = new List<string>();
        string mirrors = "/work/.mirror";
        string? markdown = null;
        string? repo = null;
        string? commit = null;
        var errors = 0;
        var restore = true;
        var compare = false;
        var cache = "/tmp/tb-realcode";
        var restoreTimeout = TimeSpan.FromMinutes(5);
        var budget = TimeSpan.FromSeconds(1200);
        Regex? only = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--cases": caseFiles.Add(Path.GetFullPath(Value())); break;
                    case "--mirrors": mirrors = Path.GetFullPath(Value()); break;
                    case "--markdown": markdown = Path.GetFullPath(Value()); break;
                    case "--repo": repo = Value(); break;
                    case "--commit": commit = Value(); break;
                    case "--errors":
                        errors = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : throw new ArgumentException("--errors wants a number.");
                        break;
                    case "--no-restore": restore = false; break;
                    case "--projects": only = new Regex(Value(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); break;
                    case "--compare": compare = true; break;
                    case "--restore-cache": cache = Path.GetFullPath(Value()); break;
                    case "--restore-timeout":
                        restoreTimeout = TimeSpan.FromMinutes(int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) && minutes > 0 ? minutes : throw new ArgumentException("--restore-timeout wants minutes."));
                        break;
                    case "--budget":
                        budget = TimeSpan.FromSeconds(int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : throw new ArgumentException("--budget wants seconds."));
                        break;
                    case "-h" or "--help":
                        Console.WriteLine(Usage);
                        return 0;
                    default: throw new ArgumentException($"unknown argument '{args[i]}'.");
                }
            }
            catch (ArgumentException exception)
            {
                Console.Error.WriteLine(exception.Message);
                Console.Error.WriteLine(Usage);
                return 2;
            }
        }

        if (repo is not null)
        {
            if (caseFiles.Count > 0 || !repo.Contains('/', StringComparison.Ordinal))
            {
                Console.Error.WriteLine(caseFiles.Count > 0 ? "--repo and --cases do not go together." : "--repo wants OWNER/NAME.");
                return 2;
            }

            return WholeRepo(repo, commit, mirrors, markdown, NewRunner(), budget, only);
        }

        if (commit is not null)
        {
            Console.Error.WriteLine("--commit only goes with --repo.");
            return 2;
        }

        if (caseFiles.Count == 0)
        {
            caseFiles.AddRange(DefaultCaseFiles());
        }

        var missing = caseFiles.Where(f => !File.Exists(f)).ToList();
        if (caseFiles.Count == 0 || missing.Count > 0)
        {
            Console.Error.WriteLine(caseFiles.Count == 0 ? "No case file found; pass --cases FILE." : "Case file not found: " + string.Join(", ", missing));
            return 2;
        }

        List<Case> cases;
        try
        {
            cases = caseFiles.SelectMany(Case.Load).ToList();
        }
        catch (FormatException exception)
        {
            Console.Error.WriteLine(exception.Message);
            return 2;
        }

        return Cases(cases, caseFiles, mirrors, markdown, NewRunner());

        AnalyzerRunner NewRunner() => new(errors, restore ? new Restorer(cache, restoreTimeout) : null, compare);
    }

    private static int Cases(IReadOnlyList<Case> cases, IReadOnlyList<string> caseFiles, string mirrorsRoot, string? markdown, AnalyzerRunner runner)
    {
        var wall = Stopwatch.StartNew();
        Console.WriteLine($"{cases.Count} cases from {string.Join(", ", caseFiles)}; mirrors in {mirrorsRoot}; {runner.Analyzers.Length} analyzers, {runner.References.Count} references.");
        var mirrors = new Dictionary<string, Mirror?>(StringComparer.OrdinalIgnoreCase);
        var snapshots = new Dictionary<(string, string), RepoSnapshot?>();
        var results = new List<CaseResult>();
        try
        {
            // Grouped by project so each compilation is built once, then freed before the next (large repositories need the memory).
            foreach (var @case in cases)
            {
                if (!mirrors.TryGetValue(@case.Repo, out var mirror))
                {
                    mirrors[@case.Repo] = mirror = Mirror.Open(mirrorsRoot, @case.Repo);
                }

                if (mirror is null)
                {
                    results.Add(new CaseResult(@case, Outcome.MissingMirror, [], null, $"no mirror of {@case.Repo} under {mirrorsRoot}"));
                    continue;
                }

                var snapshot = Snapshot(mirror, @case.Commit, snapshots);
                if (snapshot is null || !snapshot.Contains(@case.Path))
                {
                    results.Add(new CaseResult(@case, Outcome.MissingMirror, [], null, snapshot is null ? $"commit {@case.Commit} is not in the mirror" : $"{@case.Path} is not in commit {@case.Commit}"));
                    continue;
                }

                if (snapshot.ProjectOf(@case.Path) is not { } project)
                {
                    results.Add(new CaseResult(@case, Outcome.NoProject, [], null, "no .csproj above the file"));
                    continue;
                }

                var closure = snapshot.Close(project);
                var analyzed = runner.Analyze(snapshot, closure);
                Console.WriteLine($"  {@case.Id}: {project} (+{closure.Projects.Count - 1} referenced) {analyzed.Files} files, {Errors(analyzed)}, {Summary.Seconds(analyzed.Elapsed)}");
                Console.WriteLine($"      {analyzed.RestoreLine}");
                PrintErrors(analyzed);
                var near = Scoring.Near(@case, analyzed.Findings);
                var citing = near.Count > 0 ? [] : Scoring.Citing(@case, analyzed.Findings);
                results.Add(new CaseResult(@case, Scoring.Score(@case, near, citing), near, analyzed, null) { Citing = citing });
            }
        }
        finally
        {
            foreach (var mirror in mirrors.Values)
            {
                mirror?.Dispose();
            }
        }

        Console.WriteLine();
        var summary = new Summary(results, runner, wall.Elapsed);
        CaseReport.Print(results, summary, Console.Out);
        if (markdown is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(markdown)!);
            File.WriteAllText(markdown, CaseReport.Markdown(results, summary, caseFiles));
            Console.WriteLine($"Markdown written to {markdown}");
        }

        return 0;
    }

    private static int WholeRepo(string repo, string? commitish, string mirrorsRoot, string? markdown, AnalyzerRunner runner, TimeSpan budget, Regex? only)
    {
        var wall = Stopwatch.StartNew();
        using var mirror = Mirror.Open(mirrorsRoot, repo);
        if (mirror is null)
        {
            Console.WriteLine($"missing mirror: no mirror of {repo} under {mirrorsRoot}");
            return 0;
        }

        var commit = mirror.ResolveCommit(commitish ?? "HEAD");
        var tree = commit is null ? null : mirror.Tree(commit);
        if (commit is null || tree is null)
        {
            Console.WriteLine($"missing mirror: commit {commitish ?? "HEAD"} is not in {mirror.GitDir}");
            return 0;
        }

        var snapshot = new RepoSnapshot(mirror, commit, tree);
        var projects = snapshot.AllProjects.Where(p => !IsTestOrSample().IsMatch(p) && (only is null || only.IsMatch(p))).ToList();
        Console.WriteLine($"{repo} at {commit}: {projects.Count} non-test projects ({snapshot.AllProjects.Count() - projects.Count} skipped); {runner.Analyzers.Length} analyzers.");
        var findings = new List<Finding>();
        var compiled = new List<ProjectResult>();
        var skipped = new List<string>();
        foreach (var project in projects)
        {
            if (wall.Elapsed > budget)
            {
                skipped.Add(project);
                continue;
            }

            var result = runner.Analyze(snapshot, snapshot.Close(project));
            compiled.Add(result);
            Console.WriteLine($"  {project}: {result.Files} files, {Errors(result)}, {result.Findings.Count} findings, {Summary.Seconds(result.Elapsed)} (compile {Summary.Seconds(result.CompileTime)}, TB analyzers {Summary.Seconds(result.AnalyzerTime)})");
            Console.WriteLine($"      {result.RestoreLine}");
            PrintErrors(result);
            findings.AddRange(result.Findings);
        }

        // A file compiled into several projects (as a referenced project's source) reports once.
        var distinct = findings.Distinct().Where(f => !IsTestOrSample().IsMatch(f.Path)).OrderBy(f => f.Path, StringComparer.Ordinal).ThenBy(f => f.Line).ThenBy(f => f.Id, StringComparer.Ordinal).ToList();
        var lines = new List<string> { string.Empty, $"{distinct.Count} TB findings:" };
        lines.AddRange(distinct.Select(f => $"{f.Id} {f.Path}:{f.Line}: {f.Message}"));
        lines.Add(string.Empty);
        lines.AddRange(distinct.GroupBy(f => f.Id).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"  {g.Key}: {g.Count()}"));
        lines.Add($"AD0001 (analyzer exceptions): {runner.AnalyzerExceptions}");
        lines.AddRange(runner.ExceptionSamples.Select(s => "  " + s));
        lines.Add($"Compilations: {compiled.Count} ({compiled.Sum(p => p.Files):N0} files, {compiled.Sum(p => p.CompileErrors):N0} compile errors)");
        if (skipped.Count > 0)
        {
            lines.Add($"Budget of {Summary.Seconds(budget)} spent: {skipped.Count} projects not compiled ({string.Join(", ", skipped)})");
        }

        lines.AddRange(Summary.RestoreLines(compiled, runner));
        lines.AddRange(Summary.AnalyzerTimes(runner));
        lines.Add(Summary.CostLine(compiled));
        lines.Add($"Wall time: {Summary.Seconds(wall.Elapsed)}");
        foreach (var line in lines)
        {
            Console.WriteLine(line);
        }

        if (markdown is not null)
        {
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"# TB findings in {repo} at `{commit}`");
            text.AppendLine();
            text.AppendLine("| rule | file:line | message |");
            text.AppendLine("|---|---|---|");
            foreach (var finding in distinct)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {finding.Id} | `{finding.Path}:{finding.Line}` | {CaseReport.Cell(finding.Message)} |");
            }

            text.AppendLine();
            text.AppendLine("```text");
            foreach (var line in lines.Skip(distinct.Count + 2))
            {
                text.AppendLine(line);
            }

            text.AppendLine("```");
            Directory.CreateDirectory(Path.GetDirectoryName(markdown)!);
            File.WriteAllText(markdown, text.ToString());
        }

        return 0;
    }

    private static string Errors(ProjectResult result) =>
        $"{result.CompileErrors} compile errors{(result.TopErrors.Count > 0 ? " (" + string.Join(", ", result.TopErrors) + ")" : string.Empty)}{(result.ErrorsWithoutRestore is { } before ? $", {before} without restore" : string.Empty)}";

    private static void PrintErrors(ProjectResult result)
    {
        foreach (var error in result.SampleErrors)
        {
            Console.WriteLine($"      {error}");
        }
    }

    private static RepoSnapshot? Snapshot(Mirror mirror, string commitish, Dictionary<(string, string), RepoSnapshot?> snapshots)
    {
        if (snapshots.TryGetValue((mirror.Repo, commitish), out var known))
        {
            return known;
        }

        var commit = mirror.ResolveCommit(commitish);
        var tree = commit is null ? null : mirror.Tree(commit);
        var snapshot = commit is null || tree is null ? null : new RepoSnapshot(mirror, commit, tree);
        snapshots[(mirror.Repo, commitish)] = snapshot;
        return snapshot;
    }

    /// <summary>
    /// The default cases: the shared dev corpus is a sibling of the main checkout (../shared), which for a worktree deeper
    /// down is further up, so every ancestor of the repository root is tried; plus this project's own corpus when present.
    /// </summary>
    private static IEnumerable<string> DefaultCaseFiles()
    {
        var root = RepositoryRoot();
        for (var directory = new DirectoryInfo(root).Parent; directory is not null; directory = directory.Parent)
        {
            var dev = Path.Combine(directory.FullName, "shared", "dev-corpus", "dev-cases.jsonl");
            if (File.Exists(dev))
            {
                yield return dev;
                break;
            }
        }

        var own = Path.Combine(root, "tests", "TimeoutBudget.RealCode", "corpus", "cases.jsonl");
        if (File.Exists(own))
        {
            yield return own;
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TimeoutBudget.sln")))
            {
                return directory.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }

    // A path segment that names tests, samples, benchmarks or examples (Foo.Tests, test/, samples/, Foo.Benchmarks) but not
    // a product whose name merely starts with "Test" (Testcontainers).
    [GeneratedRegex(@"(^|[/._-])(tests?|unittests?|integrationtests?|functionaltests?|testing|testhelpers?|testutils?|specs?|samples?|benchmarks?|examples?|demos?)([/._-]|$)", RegexOptions.IgnoreCase)]
    private static partial Regex IsTestOrSample();
}

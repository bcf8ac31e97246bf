using System.Diagnostics;
using System.Text;
using CsCheck;
using Xunit.Abstractions;

namespace TimeoutBudget.Tests;

/// <summary>
/// Parsers under attack: every generated input yields a value or the documented exception type, never anything else.
/// CI runs a short pass; set TIMEOUTBUDGET_FUZZ_ITERATIONS (e.g. 1000000) for the documented long run.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    private static readonly int? LongRun =
        int.TryParse(Environment.GetEnvironmentVariable("TIMEOUTBUDGET_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : null;

    private static readonly int Iterations = LongRun ?? 20_000;

    // Plans are far larger inputs than durations; the short CI pass tries fewer of them.
    private static readonly int PlanIterations = LongRun ?? 5_000;

    private static readonly string[] SeedPlans = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "plans"), "*.json").Select(File.ReadAllText).ToArray();

    private static readonly Gen<string> DurationLike = Gen.OneOf(
        Gen.String[Gen.Char["0123456789.:msh -+eE\t"], 0, 24],
        Gen.String[Gen.Char, 0, 80],
        Gen.Select(Gen.Long, Gen.OneOf("ms", "s", "m", "h", "", "d", "%"), (number, unit) => number.ToString(System.Globalization.CultureInfo.InvariantCulture) + unit),
        Gen.Select(Gen.Double, Gen.OneOf("ms", "s", "m", "h"), (number, unit) => number.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + unit),
        Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 99], Gen.Int[0, 99], (h, m, s) => $"{h}:{m:00}:{s:00}"),
        Gen.OneOf("NaN", "Infinity", "-0s", "٣٠s", "３０s", "1e309s", "99999999999999999999999h", "0x10s", "1,5s", "", " ", "\0", "none", "infinite"));

    private static readonly Gen<string> PlanLike = Gen.OneOf(
        Gen.String[Gen.Char, 0, 200],
        Gen.String[Gen.Char["{}[]\":,. 0123456789abcdeflmnorstuy\\"], 0, 200],
        Gen.Select(Gen.Int[0, SeedPlans.Length - 1], Gen.Int[1, 8], Gen.Int, (plan, edits, seed) => Mutate(SeedPlans[plan], edits, seed)),
        Gen.Select(Gen.Int[1, 5_000], depth => new string('[', depth) + new string(']', depth)),
        Gen.Select(Gen.Int[1, 200], depth => Nested(depth)),
        Gen.Select(Gen.Int[1, 100_000], length => $$"""{ "layer": "{{new string('x', length)}}", "timeout": "1s" }"""),
        Gen.Select(Gen.Int[1, 50], count => "{" + string.Join(",", Enumerable.Repeat("\"layer\": \"a\"", count)) + ", \"timeout\": \"1s\" }"));

    [Fact]
    public void Duration_parser_returns_a_value_or_a_FormatException()
    {
        var tried = 0L;
        var stopwatch = Stopwatch.StartNew();
        DurationLike.Sample(text =>
        {
            Interlocked.Increment(ref tried);
            Assert.True(DurationText.TryParse(text, out var parsed) || parsed == TimeSpan.Zero);
            try
            {
                var value = DurationText.Parse(text, allowInfinite: true);
                Assert.True(value == Timeout.InfiniteTimeSpan || (value >= TimeSpan.Zero && value <= DurationText.MaxValue), text);
                if (value != Timeout.InfiniteTimeSpan)
                {
                    // The compact form keeps three decimals of its unit, so it round-trips to within half a millisecond.
                    var roundTripped = DurationText.Parse(DurationText.FormatCompact(value));
                    Assert.True((roundTripped - value).Duration() <= TimeSpan.FromMilliseconds(0.5), $"{text} -> {DurationText.FormatCompact(value)}");
                }
            }
            catch (FormatException exception)
            {
                Assert.True(exception.Message.Length < 400, exception.Message);
            }
        }, iter: Iterations);
        output.WriteLine($"durations: {tried} inputs in {stopwatch.Elapsed.TotalSeconds:0.0} s, none crashed or hung");
    }

    [Fact]
    public void Margin_parser_returns_a_value_or_a_FormatException()
    {
        var tried = 0L;
        DurationLike.Sample(text =>
        {
            Interlocked.Increment(ref tried);
            try
            {
                var margin = BudgetMargin.Parse(text);
                Assert.InRange(margin.FractionOfWindow, 0, 0.99999);
                Assert.True(margin.Floor >= TimeSpan.Zero);
            }
            catch (FormatException)
            {
            }
        }, iter: Iterations);
        output.WriteLine($"margins: {tried} inputs, none crashed or hung");
    }

    [Fact]
    public void Plan_parser_returns_a_plan_or_a_BudgetPlanException_and_validation_never_throws()
    {
        var tried = 0L;
        var parsed = 0L;
        var stopwatch = Stopwatch.StartNew();
        PlanLike.Sample(text =>
        {
            Interlocked.Increment(ref tried);
            BudgetPlan plan;
            try
            {
                plan = BudgetPlan.Parse(text);
            }
            catch (BudgetPlanException exception)
            {
                Assert.True(exception.Line >= 1 && exception.Column >= 1, exception.Message);
                Assert.True(exception.Message.Length < 600, exception.Message);
                return;
            }

            Interlocked.Increment(ref parsed);
            foreach (var violation in plan.Validate())
            {
                Assert.False(string.IsNullOrEmpty(violation.Path));
                Assert.NotNull(plan.Find(violation.Path));
            }
        }, iter: PlanIterations);
        output.WriteLine($"plans: {tried} inputs ({parsed} parsed) in {stopwatch.Elapsed.TotalSeconds:0.0} s, none crashed or hung");
    }

    private static string Mutate(string text, int edits, int seed)
    {
        var random = new Random(seed);
        var builder = new StringBuilder(text);
        const string alphabet = "{}[]\":,.0123456789-+eE \\u/%nsmhx\u0000é";
        for (var i = 0; i < edits && builder.Length > 0; i++)
        {
            var at = random.Next(builder.Length);
            switch (random.Next(3))
            {
                case 0:
                    builder.Remove(at, 1);
                    break;
                case 1:
                    builder.Insert(at, alphabet[random.Next(alphabet.Length)]);
                    break;
                default:
                    builder[at] = alphabet[random.Next(alphabet.Length)];
                    break;
            }
        }

        return builder.ToString();
    }

    private static string Nested(int depth)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            builder.Append($$"""{ "layer": "l{{i}}", "timeout": "{{1000 - i}}s", "children": [""");
        }

        for (var i = 0; i < depth; i++)
        {
            builder.Append("] }");
        }

        return builder.ToString();
    }
}

using System.Diagnostics;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit.Abstractions;

namespace TimeoutBudget.Http.Tests;

/// <summary>
/// Propagation headers under attack: whatever a caller sends, reading never throws, never hangs and never yields more
/// than the shortest value it could have meant, nor more than 49 days. CI runs a short pass; set
/// TIMEOUTBUDGET_FUZZ_ITERATIONS (e.g. 1000000) for the documented long run.
/// </summary>
public sealed class HeaderFuzzTests(ITestOutputHelper output)
{
    private static readonly int Iterations =
        int.TryParse(Environment.GetEnvironmentVariable("TIMEOUTBUDGET_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 20_000;

    private static readonly TimeSpan Ceiling = BudgetOptions.MaxTimeoutLimit;

    private static readonly Gen<string> HeaderValue = Gen.OneOf(
        Gen.String[Gen.Char["0123456789HMSmun -+.,;eE\t"], 0, 40],
        Gen.String[Gen.Char, 0, 64],
        Gen.Select(Gen.Long, Gen.OneOf("H", "M", "S", "m", "u", "n", "", "s", "h"), (number, unit) => number.ToString(System.Globalization.CultureInfo.InvariantCulture) + unit),
        Gen.Select(Gen.Int[1, 12], Gen.OneOf("H", "M", "S", "m", "u", "n"), (digits, unit) => new string('9', digits) + unit),
        Gen.Select(Gen.Int[1, 100_000], length => new string('7', length)),
        Gen.OneOf("", " ", "0", "-0", "0S", "00000000n", "1,2,3", "  5000", "5000  ", "٣٠٠٠", "１０S", "NaN", "Infinity", "\0"));

    private static readonly Gen<string[]> HeaderValues = HeaderValue.Array[0, 20];

    [Fact]
    public void Single_values_parse_to_a_bounded_duration_or_are_rejected()
    {
        var tried = 0L;
        HeaderValue.Sample(text =>
        {
            Interlocked.Increment(ref tried);
            if (GrpcTimeoutFormat.TryParse(text, out var grpc))
            {
                Assert.True(grpc >= TimeSpan.Zero, text);
                Assert.True(GrpcTimeoutFormat.Format(Min(grpc, Ceiling)) is { Length: > 1 and <= 9 }, text);
            }

            if (BudgetHeaders.TryParseMilliseconds(text, out var milliseconds))
            {
                Assert.InRange(milliseconds, TimeSpan.Zero, Ceiling);
            }
        }, iter: Iterations);
        output.WriteLine($"single header values: {tried} inputs, none threw or hung");
    }

    [Fact]
    public void Reading_any_mix_of_headers_never_throws_and_never_lengthens()
    {
        var tried = 0L;
        var stopwatch = Stopwatch.StartNew();
        Gen.Select(HeaderValues, HeaderValues, HeaderValues).Sample((budget, grpc, envoy) =>
        {
            Interlocked.Increment(ref tried);
            var headers = new HeaderDictionary
            {
                [BudgetHeaders.Remaining] = new StringValues(budget),
                [BudgetHeaders.GrpcTimeout] = new StringValues(grpc),
                [BudgetHeaders.EnvoyExpectedTimeout] = new StringValues(envoy),
            };
            var read = BudgetHeaders.ReadRemaining(headers, BudgetHeaderKinds.All);
            if (read is not { } remaining)
            {
                return;
            }

            Assert.InRange(remaining, TimeSpan.Zero, Ceiling);

            // Whatever was read is no longer than any item that parses on its own (the reader looks at the first 16 items
            // of each header, comma-folded or repeated, trimmed of spaces and tabs).
            foreach (var item in Items(budget).Concat(Items(envoy)))
            {
                if (BudgetHeaders.TryParseMilliseconds(item, out var one))
                {
                    Assert.True(remaining <= one, $"read {remaining} but '{item}' says {one}");
                }
            }

            foreach (var item in Items(grpc))
            {
                if (GrpcTimeoutFormat.TryParse(item, out var one))
                {
                    Assert.True(remaining <= one, $"read {remaining} but grpc-timeout '{item}' says {one}");
                }
            }
        }, iter: Math.Max(1, Iterations / 4));
        output.WriteLine($"header sets: {tried} inputs in {stopwatch.Elapsed.TotalSeconds:0.0} s, none threw, hung or lengthened the budget");
    }

    [Fact]
    public void A_written_grpc_timeout_is_never_longer_than_the_time_left()
    {
        var tried = 0L;
        Gen.Long[0, Ceiling.Ticks].Sample(ticks =>
        {
            Interlocked.Increment(ref tried);
            var left = TimeSpan.FromTicks(ticks);
            var text = GrpcTimeoutFormat.Format(left);
            Assert.True(GrpcTimeoutFormat.TryParse(text, out var read), text);
            Assert.True(read <= left, $"{left} was written as {text}, read back as {read}");
        }, iter: Iterations);
        output.WriteLine($"grpc-timeout writes: {tried} inputs");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static IEnumerable<string> Items(string[] values) =>
        values.SelectMany(v => v.Split(',')).Take(16).Select(item => item.Trim(' ', '\t'));
}

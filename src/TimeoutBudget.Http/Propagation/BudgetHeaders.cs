using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace TimeoutBudget.Http;

/// <summary>
/// The headers that carry a budget between services, and how they are read. Every value is relative (time left when the
/// request was sent), so no clock needs to agree across machines. Reading never throws: malformed values are ignored,
/// several values (repeated or comma-separated headers) resolve to the shortest, zero or negative means already expired,
/// and the result is only ever a request to shorten — the receiver caps it with its own maximum.
/// </summary>
public static class BudgetHeaders
{
    /// <summary>
    /// Our own request header for plain HTTP: <c>x-timeout-budget-ms</c>, the whole milliseconds the receiver has
    /// (an ASCII integer, optionally negative; rounded down by the sender).
    /// </summary>
    public const string Remaining = "x-timeout-budget-ms";

    /// <summary>The gRPC request header: <c>grpc-timeout</c>, in the format of <see cref="GrpcTimeoutFormat"/>.</summary>
    public const string GrpcTimeout = "grpc-timeout";

    /// <summary>Envoy's request header to upstreams: <c>x-envoy-expected-rq-timeout-ms</c>, whole milliseconds.</summary>
    public const string EnvoyExpectedTimeout = "x-envoy-expected-rq-timeout-ms";

    /// <summary>
    /// The response header sent with a 504 when a budget ran out: <c>x-timeout-budget-expired</c>, the path of the layer
    /// whose deadline passed (e.g. <c>service-b/transport/service-c</c>).
    /// </summary>
    public const string Expired = "x-timeout-budget-expired";

    /// <summary>Longest accepted layer path in an <see cref="Expired"/> response header; longer ones are cut.</summary>

    // Bounds on the work spent on a header, whatever a caller sends.
    private const int MaxValuesRead = 16;
    private const int MaxMillisecondDigits = 32;

    /// <summary>Reads the shortest valid timeout among the headers of the given kinds.</summary>
    /// <param name="headers">The incoming request's headers.</param>
    /// <param name="kinds">Which headers to honour.</param>
    /// <returns>The shortest time left announced (zero when already expired), or null when no valid header came.</returns>
    public static TimeSpan? ReadRemaining(IHeaderDictionary headers, BudgetHeaderKinds kinds)
    {
        ArgumentNullException.ThrowIfNull(headers);
        TimeSpan? shortest = null;
        if (kinds.HasFlag(BudgetHeaderKinds.Budget))
        {
            shortest = Shorter(shortest, ReadValues(headers[Remaining], BudgetHeaderKinds.Budget));
        }

        if (kinds.HasFlag(BudgetHeaderKinds.GrpcTimeout))
        {
            shortest = Shorter(shortest, ReadValues(headers[GrpcTimeout], BudgetHeaderKinds.GrpcTimeout));
        }

        if (kinds.HasFlag(BudgetHeaderKinds.Envoy))
        {
            shortest = Shorter(shortest, ReadValues(headers[EnvoyExpectedTimeout], BudgetHeaderKinds.Envoy));
        }

        return shortest;
    }

    /// <summary>
    /// Reads a whole number of milliseconds as <see cref="Remaining"/> and <see cref="EnvoyExpectedTimeout"/> carry it:
    /// an optional <c>-</c> and ASCII digits, nothing else. Negative reads as zero (expired); a number too large for a
    /// budget saturates at <see cref="BudgetOptions.MaxTimeoutLimit"/>.
    /// </summary>
    /// <param name="text">The value.</param>
    /// <param name="remaining">The time left when valid; zero otherwise.</param>
    /// <returns>Whether the value was valid.</returns>
    public static bool TryParseMilliseconds(ReadOnlySpan<char> text, out TimeSpan remaining)
    {
        remaining = TimeSpan.Zero;
        var negative = text.Length > 0 && text[0] == '-';
        var digits = negative ? text[1..] : text;
        if (digits.Length == 0 || digits.Length > MaxMillisecondDigits)
        {
            return false;
        }

        var limit = (long)BudgetOptions.MaxTimeoutLimit.TotalMilliseconds;
        long value = 0;
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = value > limit ? value : (value * 10) + (c - '0');
        }

        remaining = negative ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(value, limit));
        return true;
    }

    /// <summary>Writes whole milliseconds, rounded down so the receiver is never told it has more than it has; at least 0.</summary>
    /// <param name="remaining">The time left.</param>
    /// <returns>The header value.</returns>
    public static string FormatMilliseconds(TimeSpan remaining) =>
        (remaining <= TimeSpan.Zero ? 0 : remaining.Ticks / TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture);

    /// <summary>Formats a value of the given single kind.</summary>
    internal static string Format(BudgetHeaderKinds kind, TimeSpan remaining) =>
        kind == BudgetHeaderKinds.GrpcTimeout ? GrpcTimeoutFormat.Format(remaining) : FormatMilliseconds(remaining);

    /// <summary>The header name of a single kind.</summary>
    internal static string NameOf(BudgetHeaderKinds kind) => kind switch
    {
        BudgetHeaderKinds.Budget => Remaining,
        BudgetHeaderKinds.GrpcTimeout => GrpcTimeout,
        BudgetHeaderKinds.Envoy => EnvoyExpectedTimeout,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A single header kind is expected."),
    };

    /// <summary>The shortest valid value of one kind already on an outgoing request, or null.</summary>
    internal static TimeSpan? ReadRemaining(HttpHeaders headers, BudgetHeaderKinds kind) =>
        headers.TryGetValues(NameOf(kind), out var values) ? ReadValues(new StringValues(values.Take(MaxValuesRead).ToArray()), kind) : null;

    private static TimeSpan? ReadValues(StringValues values, BudgetHeaderKinds kind)
    {
        TimeSpan? shortest = null;
        var read = 0;
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            // A repeated header may also arrive folded into one comma-separated value.
            var rest = value.AsSpan();
            while (true)
            {
                if (++read > MaxValuesRead)
                {
                    return shortest;
                }

                var comma = rest.IndexOf(',');
                var item = (comma < 0 ? rest : rest[..comma]).Trim(" \t");
                rest = comma < 0 ? ReadOnlySpan<char>.Empty : rest[(comma + 1)..];
                var valid = kind == BudgetHeaderKinds.GrpcTimeout
                    ? GrpcTimeoutFormat.TryParse(item, out var parsed)
                    : TryParseMilliseconds(item, out parsed);
                if (valid)
                {
                    // grpc-timeout can say 99999999H; nothing we arm may exceed what a .NET timer can hold.
                    shortest = Shorter(shortest, parsed > BudgetOptions.MaxTimeoutLimit ? BudgetOptions.MaxTimeoutLimit : parsed);
                }

                if (comma < 0)
                {
                    break;
                }
            }
        }

        return shortest;
    }

    private static TimeSpan? Shorter(TimeSpan? a, TimeSpan? b) =>
        a is null ? b : b is null ? a : (a.Value <= b.Value ? a : b);
}

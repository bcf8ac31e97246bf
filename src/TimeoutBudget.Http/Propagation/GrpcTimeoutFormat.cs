using System.Globalization;

namespace TimeoutBudget.Http;

/// <summary>
/// The <c>grpc-timeout</c> wire format: an ASCII integer of one to eight digits followed by one unit, <c>H</c> (hours),
/// <c>M</c> (minutes), <c>S</c> (seconds), <c>m</c> (milliseconds), <c>u</c> (microseconds) or <c>n</c> (nanoseconds).
/// </summary>
public static class GrpcTimeoutFormat
{
    /// <summary>The largest value the format carries: 99,999,999 of any unit.</summary>
    public const long MaxValue = 99_999_999;

    private const int MaxDigits = 8;

    /// <summary>
    /// Reads a <c>grpc-timeout</c> value strictly: no sign, no whitespace, no decimal point, at most eight digits, one known unit.
    /// Anything else is rejected rather than guessed at. Nanoseconds are rounded down to the 100 ns tick.
    /// </summary>
    /// <param name="text">The header value, or null.</param>
    /// <param name="timeout">The timeout when valid; zero otherwise.</param>
    /// <returns>Whether the value was valid.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out TimeSpan timeout)
    {
        timeout = TimeSpan.Zero;
        if (text.Length < 2 || text.Length > MaxDigits + 1)
        {
            return false;
        }

        long value = 0;
        foreach (var c in text[..^1])
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        // At most 99,999,999 hours is 3.6e18 ticks: it fits a TimeSpan, so none of these can overflow.
        long? ticks = text[^1] switch
        {
            'H' => value * TimeSpan.TicksPerHour,
            'M' => value * TimeSpan.TicksPerMinute,
            'S' => value * TimeSpan.TicksPerSecond,
            'm' => value * TimeSpan.TicksPerMillisecond,
            'u' => value * 10,
            'n' => value / 100,
            _ => null,
        };
        if (ticks is null)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(ticks.Value);
        return true;
    }

    /// <summary>
    /// Writes a timeout in the most precise unit whose value fits in eight digits, always rounding down, so the
    /// written timeout is never longer than <paramref name="timeout"/>. Zero or negative writes <c>0n</c> (already expired);
    /// anything over 99,999,999 hours writes that.
    /// </summary>
    /// <param name="timeout">The time left.</param>
    /// <returns>The header value, e.g. <c>1500000u</c> for 1.5 s.</returns>
    public static string Format(TimeSpan timeout)
    {
        var ticks = timeout.Ticks;
        if (ticks <= 0)
        {
            return "0n";
        }

        // Nanoseconds: ticks * 100, but only when it cannot overflow eight digits.
        if (ticks <= MaxValue / 100)
        {
            return Write(ticks * 100, 'n');
        }

        ReadOnlySpan<(long TicksPerUnit, char Unit)> units =
        [
            (10, 'u'),
            (TimeSpan.TicksPerMillisecond, 'm'),
            (TimeSpan.TicksPerSecond, 'S'),
            (TimeSpan.TicksPerMinute, 'M'),
            (TimeSpan.TicksPerHour, 'H'),
        ];
        foreach (var (ticksPerUnit, unit) in units)
        {
            var value = ticks / ticksPerUnit;
            if (value <= MaxValue)
            {
                return Write(value, unit);
            }
        }

        return Write(MaxValue, 'H');
    }

    private static string Write(long value, char unit) => value.ToString(CultureInfo.InvariantCulture) + unit;
}

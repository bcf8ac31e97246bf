using System.Globalization;
using System.Text;

namespace TimeoutBudget;

/// <summary>
/// Reads and writes the duration notation used by plans, messages and headers:
/// <c>500ms</c>, <c>30s</c>, <c>10m</c>, <c>1h</c>, <c>1.5s</c> and <c>hh:mm:ss[.fff]</c>.
/// </summary>
/// <remarks>
/// This file is compiled into the analyzer as well (netstandard2.0), so it uses no API newer than that.
/// Only ASCII digits are accepted: a timeout written with other digits is far more likely a mistake than intent.
/// </remarks>
public static class DurationText
{
    /// <summary>The largest duration the notation accepts: 365 days. Anything longer is a typo or an attack, not a timeout.</summary>
    public static readonly TimeSpan MaxValue = TimeSpan.FromDays(365);

    private const int MaxTextLength = 64;

    /// <summary>Parses a duration, throwing <see cref="FormatException"/> that quotes the bad text.</summary>
    /// <param name="text">The text, for example <c>"30s"</c>.</param>
    /// <param name="allowInfinite">Whether <c>"infinite"</c> or <c>"none"</c> is accepted (returned as <see cref="Timeout.InfiniteTimeSpan"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is not a duration, is negative or exceeds <see cref="MaxValue"/>.</exception>
    public static TimeSpan Parse(string text, bool allowInfinite = false)
    {
        if (text is null)
        {
            throw new ArgumentNullException(nameof(text));
        }

        if (TryParse(text, allowInfinite, out var value, out var error))
        {
            return value;
        }

        throw new FormatException(error);
    }

    /// <summary>Tries to parse a duration; never throws.</summary>
    /// <param name="text">The text, for example <c>"500ms"</c>.</param>
    /// <param name="value">The duration when the text is valid.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a valid finite duration.</returns>
    public static bool TryParse(string? text, out TimeSpan value) => TryParse(text, allowInfinite: false, out value, out _);

    internal static bool TryParse(string? text, bool allowInfinite, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        if (text is null)
        {
            error = "A duration is required but none was given.";
            return false;
        }

        var quoted = Quote(text);
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            error = $"{quoted} is not a duration: it is empty. Write one such as \"500ms\", \"30s\", \"10m\", \"1h\" or \"00:01:30\".";
            return false;
        }

        if (trimmed.Length > MaxTextLength)
        {
            error = $"{quoted} is not a duration: it is longer than {MaxTextLength} characters.";
            return false;
        }

        if (allowInfinite && (Is(trimmed, "infinite") || Is(trimmed, "none")))
        {
            value = Timeout.InfiniteTimeSpan;
            error = string.Empty;
            return true;
        }

        if (trimmed[0] == '-')
        {
            error = $"{quoted} is not a valid duration: it is negative.";
            return false;
        }

        decimal seconds;
        if (trimmed.IndexOf(':') >= 0)
        {
            if (!TryParseClock(trimmed, out seconds))
            {
                error = $"{quoted} is not a valid duration: expected hh:mm:ss with minutes and seconds below 60.";
                return false;
            }
        }
        else if (!TryParseWithUnit(trimmed, out seconds, out error))
        {
            error = $"{quoted} is not a valid duration: {error}";
            return false;
        }

        if (seconds > (decimal)MaxValue.TotalSeconds)
        {
            error = $"{quoted} is too large: the longest duration accepted is {Format(MaxValue)}.";
            return false;
        }

        value = TimeSpan.FromTicks((long)decimal.Round(seconds * TimeSpan.TicksPerSecond));
        error = string.Empty;
        return true;
    }

    /// <summary>
    /// Formats a duration the way messages quote it: <c>"500 ms"</c>, <c>"1.5 s"</c>, <c>"1623 s"</c>, <c>"infinite"</c>.
    /// </summary>
    /// <param name="value">The duration.</param>
    /// <returns>The invariant-culture text.</returns>
    public static string Format(TimeSpan value)
    {
        if (value == Timeout.InfiniteTimeSpan || value == TimeSpan.MaxValue)
        {
            return "infinite";
        }

        var sign = value < TimeSpan.Zero ? "-" : string.Empty;
        var ticks = value.Ticks == long.MinValue ? long.MaxValue : Math.Abs(value.Ticks);
        if (ticks < TimeSpan.TicksPerSecond)
        {
            return sign + Trim((decimal)ticks / TimeSpan.TicksPerMillisecond) + " ms";
        }

        return sign + Trim((decimal)ticks / TimeSpan.TicksPerSecond) + " s";
    }

    /// <summary>Formats a duration in the plan notation that <see cref="Parse"/> reads back (<c>"1.5s"</c>, <c>"250ms"</c>).</summary>
    /// <param name="value">A non-negative duration or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>The invariant-culture text.</returns>
    public static string FormatCompact(TimeSpan value)
    {
        if (value == Timeout.InfiniteTimeSpan)
        {
            return "infinite";
        }

        var ticks = Math.Max(0, value.Ticks);
        return ticks < TimeSpan.TicksPerSecond
            ? Trim((decimal)ticks / TimeSpan.TicksPerMillisecond) + "ms"
            : Trim((decimal)ticks / TimeSpan.TicksPerSecond) + "s";
    }

    internal static string Quote(string text)
    {
        const int shown = 40;
        var builder = new StringBuilder(text.Length + 2).Append('"');
        for (var i = 0; i < text.Length && i < shown; i++)
        {
            var c = text[i];
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        if (text.Length > shown)
        {
            builder.Append('…');
        }

        return builder.Append('"').ToString();
    }

    private static string Trim(decimal value) =>
        decimal.Round(value, 3).ToString("0.###", CultureInfo.InvariantCulture);

    private static bool Is(string text, string word) => string.Equals(text, word, StringComparison.OrdinalIgnoreCase);

    private static bool TryParseWithUnit(string text, out decimal seconds, out string error)
    {
        seconds = 0;
        var end = 0;
        while (end < text.Length && (IsAsciiDigit(text[end]) || text[end] == '.'))
        {
            end++;
        }

        if (end == 0)
        {
            error = "it must start with a number, as in \"30s\".";
            return false;
        }

        if (!TryParseNumber(text.Substring(0, end), out var number))
        {
            error = "the number is malformed or has too many digits.";
            return false;
        }

        var unit = text.Substring(end).Trim();
        decimal scale;
        if (Is(unit, "ms"))
        {
            scale = 0.001m;
        }
        else if (Is(unit, "s"))
        {
            scale = 1m;
        }
        else if (Is(unit, "m"))
        {
            scale = 60m;
        }
        else if (Is(unit, "h"))
        {
            scale = 3600m;
        }
        else if (unit.Length == 0)
        {
            error = "it has no unit; write ms, s, m or h after the number (\"30s\", not \"30\").";
            return false;
        }
        else
        {
            error = $"unknown unit {Quote(unit)}; use ms, s, m or h.";
            return false;
        }

        seconds = number * scale;
        error = string.Empty;
        return true;
    }

    private static bool TryParseClock(string text, out decimal seconds)
    {
        seconds = 0;
        var parts = text.Split(':');
        if (parts.Length != 3)
        {
            return false;
        }

        if (!IsDigits(parts[0]) || !IsDigits(parts[1]) || parts[1].Length != 2 || !TryParseNumber(parts[0], out var hours) ||
            !TryParseNumber(parts[1], out var minutes) || !TryParseNumber(parts[2], out var secs) || parts[2].Length < 2 || !IsAsciiDigit(parts[2][0]) || !IsAsciiDigit(parts[2][1]))
        {
            return false;
        }

        if (minutes >= 60 || secs >= 60)
        {
            return false;
        }

        seconds = (hours * 3600) + (minutes * 60) + secs;
        return true;
    }

    private static bool TryParseNumber(string text, out decimal number)
    {
        number = 0;
        var dot = text.IndexOf('.');
        var whole = dot < 0 ? text : text.Substring(0, dot);
        var fraction = dot < 0 ? string.Empty : text.Substring(dot + 1);
        if (whole.Length == 0 || whole.Length > 12 || fraction.Length > 9 || (dot >= 0 && fraction.Length == 0) ||
            !IsDigits(whole) || (fraction.Length > 0 && !IsDigits(fraction)))
        {
            return false;
        }

        return decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number);
    }

    private static bool IsDigits(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsAsciiDigit(char c) => c >= '0' && c <= '9';
}

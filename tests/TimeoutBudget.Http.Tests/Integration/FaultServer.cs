using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TimeoutBudget.Http.Tests.Integration;

/// <summary>The ways a hostile or broken HTTP peer on 127.0.0.1 misbehaves.</summary>
public enum Fault
{
    /// <summary>Accepts the connection and never sends a byte (seed 003).</summary>
    AcceptAndNeverAnswer,

    /// <summary>Sends the response head one byte a second: every read makes progress, so no per-read timeout ever fires.</summary>
    DripHeaders,

    /// <summary>Sends the head at once, then the body one byte a second.</summary>
    DripBody,

    /// <summary>Sends part of the body, then resets the connection (RST): a failure that is not a timeout.</summary>
    ResetMidBody,

    /// <summary>Answers in full, but only after the caller's deadline has passed.</summary>
    AnswerAfterDeadline,
}

/// <summary>
/// A raw TCP server on 127.0.0.1 that plays one <see cref="Fault"/> on every connection. Every wait it makes ends when it
/// is disposed, so a test never leaves a socket or a task behind.
/// </summary>
internal sealed class FaultServer : IAsyncDisposable
{
    private static readonly TimeSpan DripInterval = TimeSpan.FromSeconds(1);
    private const string Head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n";

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly ConcurrentBag<Task> _connections = [];
    private readonly Fault _fault;
    private readonly TimeSpan _answerAfter;
    private readonly Task _accepting;
    private int _accepted;
    private int _bytesSent;

    /// <param name="fault">What every connection gets.</param>
    /// <param name="answerAfter">For <see cref="Fault.AnswerAfterDeadline"/>: how long after the request to answer.</param>
    public FaultServer(Fault fault, TimeSpan answerAfter = default)
    {
        _fault = fault;
        _answerAfter = answerAfter;
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Response bytes written so far, over all connections.</summary>
    public int BytesSent => Volatile.Read(ref _bytesSent);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                _sockets.Add(socket);
                Interlocked.Increment(ref _accepted);
                _connections.Add(PlayAsync(socket, _stop.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task PlayAsync(Socket socket, CancellationToken stop)
    {
        try
        {
            if (_fault == Fault.AcceptAndNeverAnswer)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, stop).ConfigureAwait(false);
                return;
            }

            await ReadRequestHeadAsync(socket, stop).ConfigureAwait(false);
            switch (_fault)
            {
                case Fault.DripHeaders:
                    await DripAsync(socket, Encoding.ASCII.GetBytes(Head), stop).ConfigureAwait(false);
                    break;
                case Fault.DripBody:
                    await SendAsync(socket, Encoding.ASCII.GetBytes(Head), stop).ConfigureAwait(false);
                    await DripAsync(socket, new byte[1000], stop).ConfigureAwait(false);
                    break;
                case Fault.ResetMidBody:
                    await SendAsync(socket, Encoding.ASCII.GetBytes(Head + new string('x', 100)), stop).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromMilliseconds(50), stop).ConfigureAwait(false);
                    socket.LingerState = new LingerOption(true, 0); // close with RST, not FIN
                    socket.Close();
                    break;
                case Fault.AnswerAfterDeadline:
                    await Task.Delay(_answerAfter, stop).ConfigureAwait(false);
                    await SendAsync(socket, Encoding.ASCII.GetBytes(Head + new string('x', 1000)), stop).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            // The caller gave up and closed, or the test is over: both are the point of the exercise.
        }
    }

    private static async Task ReadRequestHeadAsync(Socket socket, CancellationToken stop)
    {
        var buffer = new byte[16 * 1024];
        var seen = 0;
        while (seen < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(seen), SocketFlags.None, stop).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            seen += read;
            if (buffer.AsSpan(0, seen).IndexOf("\r\n\r\n"u8) >= 0)
            {
                return;
            }
        }
    }

    private async Task DripAsync(Socket socket, byte[] bytes, CancellationToken stop)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            await SendAsync(socket, bytes.AsMemory(i, 1), stop).ConfigureAwait(false);
            await Task.Delay(DripInterval, stop).ConfigureAwait(false);
        }
    }

    private async Task SendAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken stop)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None, stop).ConfigureAwait(false);
            Interlocked.Add(ref _bytesSent, sent);
            bytes = bytes[sent..];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await Task.WhenAll([_accepting, .. _connections]).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _listener.Dispose();
        _stop.Dispose();
    }
}

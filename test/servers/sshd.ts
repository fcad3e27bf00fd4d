import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, tempDir } from '../helpers.ts';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const USER = 'inlet-sftp';
// Every test process sets the same password, so parallel test files never lock each other out.
const PASSWORD = 'inlet-sftp-test-only';

/** An OpenSSH server on loopback with one test user, who has a password and an authorized key. */
export interface SftpServer {
  host: '127.0.0.1';
  port: number;
  username: string;
  password: string;
  /** OpenSSH private key text for the authorized key. */
  privateKey: string;
  /** As `ssh-keygen -lf` prints it: SHA256:<base64 without padding>. */
  hostKeyFingerprint: string;
  /** A fresh folder the user owns, absolute; removed by stop(). */
  home: string;
  stop(): Promise<void>;
  /** SIGKILLs every per-connection sshd process at once, as a network failure would; the listener stays up. */
  dropConnections(): Promise<void>;
}

/** Starts sshd with internal-sftp on 127.0.0.1 and a free port, everything in a temp folder. */
export async function startSftpServer(): Promise<SftpServer> {
  await installSshd();
  const { uid, gid, home: userHome } = await ensureUser();
  const dir = tempDir('inlet-sshd-');
  // sshd reads the authorized keys file as the user, so the folder must be enterable by them.
  chmodSync(dir, 0o755);
  await keygen(join(dir, 'host_key'));
  await keygen(join(dir, 'client_key'));
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(join(dir, 'client_key.pub')));
  chmodSync(authorizedKeys, 0o644);
  const hostKeyFingerprint = await fingerprint(join(dir, 'host_key.pub'));

  const home = join(userHome, `t-${randomBytes(6).toString('hex')}`);
  mkdirSync(home);
  chownSync(home, uid, gid);

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(config, sshdConfig(dir, port, authorizedKeys));
  mkdirSync('/run/sshd', { recursive: true });
  const log = join(dir, 'sshd.log');
  const logFd = openSync(log, 'a');
  const child = spawn(SSHD, ['-f', config, '-D', '-e'], { stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  const exited = new Promise<void>((done) => {
    child.once('exit', () => done());
    child.once('error', () => done());
  });
  const pid = child.pid ?? 0;

  const stop = async () => {
    for (const descendant of descendants(pid)) signal(descendant, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await answers(port)) {
      return {
        host: '127.0.0.1',
        port,
        username: USER,
        password: PASSWORD,
        privateKey: readFileSync(join(dir, 'client_key'), 'utf8'),
        hostKeyFingerprint,
        home,
        stop,
        dropConnections: () => killAll(descendants(pid)),
      };
    }
    await sleep(50);
  }
  const output = readFileSync(log, 'utf8');
  await stop();
  throw new Error(`sshd did not start on port ${port}:\n${output}`);
}

function sshdConfig(dir: string, port: number, authorizedKeys: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${authorizedKeys}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin no',
    `AllowUsers ${USER}`,
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

async function installSshd(): Promise<void> {
  if (existsSync(SSHD)) return;
  await run('apt-get', ['update', '-qq']);
  // Another test file may be installing at the same moment: wait for dpkg's lock.
  await run('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', 'openssh-server'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

async function ensureUser(): Promise<{ uid: number; gid: number; home: string }> {
  if (!(await passwdEntry())) {
    // A parallel test file may win the race; its user is just as good.
    await run('useradd', ['-m', '-s', '/bin/sh', USER]).catch(() => undefined);
  }
  const entry = await passwdEntry();
  if (!entry) throw new Error(`could not create the user ${USER}`);
  const setPassword = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
  setPassword.stdin.end(`${USER}:${PASSWORD}\n`);
  const code = await new Promise((done) => setPassword.once('exit', done));
  if (code !== 0) throw new Error(`chpasswd exited with ${code}`);
  return entry;
}

async function passwdEntry(): Promise<{ uid: number; gid: number; home: string } | null> {
  try {
    const { stdout } = await run('getent', ['passwd', USER]);
    const fields = stdout.trim().split(':');
    return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] };
  } catch {
    return null;
  }
}

function keygen(path: string): Promise<unknown> {
  return run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'inlet-test', '-f', path]);
}

async function fingerprint(publicKey: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKey]);
  const found = stdout.split(' ').find((field) => field.startsWith('SHA256:'));
  if (!found) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return found;
}

/**
 * All processes below `pid`. A connection is a privileged monitor and, after login, an
 * unprivileged child that also holds the socket; killing only the monitor would leave it open.
 */
function descendants(pid: number): number[] {
  const found: number[] = [];
  for (const child of children(pid)) found.push(child, ...descendants(child));
  return found;
}

function children(pid: number): number[] {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return [];
  // Kernels built without CONFIG_PROC_CHILDREN have no children files; pgrep scans /proc instead.
  if (!existsSync(`/proc/self/task/${process.pid}/children`)) return pgrepChildren(pid);
  return readdirSync(tasks).flatMap((task) => {
    try {
      return readFileSync(join(tasks, task, 'children'), 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  });
}

function pgrepChildren(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGKILL');
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(20);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

// A killed process stays a zombie until its parent reaps it; it no longer holds sockets.
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

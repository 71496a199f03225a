/** A level that is not built yet: what it will teach, and where to go meanwhile. */
import { type LevelInfo, LEVELS } from './catalog.ts';
import { LevelHeader } from './LevelHeader.tsx';
import styles from './walkthrough.module.css';

export function ComingLevel({ info }: { info: LevelInfo }) {
  const built = LEVELS.filter((level) => level.status === 'built');
  return (
    <main className={styles.page}>
      <LevelHeader info={info} meta="coming: not built yet" />
      <section className={styles.coming}>
        <h2>What its walkthrough will have you do</h2>
        <ol>
          {(info.willTeach ?? []).map((item) => (
            <li key={item}>{item}</li>
          ))}
        </ol>
      </section>
      <section className={styles.coming}>
        <h2>Meanwhile</h2>
        <p style={{ margin: 0 }}>
          The levels built so far run on your live cluster now:{' '}
          {built.map((level, i) => (
            <span key={level.n}>
              {i > 0 && (i === built.length - 1 ? ' and ' : ', ')}
              <a href={`/levels/${level.n}`}>
                Level {level.n}: {level.title}
              </a>
            </span>
          ))}
          . Or see <a href="/levels">all eight levels</a>.
        </p>
      </section>
    </main>
  );
}

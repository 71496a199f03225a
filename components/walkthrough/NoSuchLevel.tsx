/** /levels/<anything but 1 to 8>: says what exists instead of a bare 404. */
import { LEVELS } from './catalog.ts';
import styles from './walkthrough.module.css';

export function NoSuchLevel() {
  return (
    <main className={styles.page}>
      <nav className={styles.crumbs} aria-label="Breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden>›</span> <a href="/levels">Walkthroughs</a>
      </nav>
      <h1 className={styles.title} style={{ marginTop: 14 }}>
        No such level
      </h1>
      <p className={styles.lede}>
        TinyCache is built in eight levels, numbered 1 to 8, so there is no walkthrough at this
        address. Pick one of these:
      </p>
      <section className={styles.coming}>
        <ol>
          {LEVELS.map((level) => (
            <li key={level.n}>
              <a href={`/levels/${level.n}`}>
                Level {level.n}: {level.title}
              </a>{' '}
              <span className={styles.muted}>
                ({level.status === 'built' ? 'built' : 'coming'})
              </span>
            </li>
          ))}
        </ol>
      </section>
    </main>
  );
}

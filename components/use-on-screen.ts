'use client';
/**
 * Whether an element is on screen (within a margin) in a visible tab. Charts draw only then:
 * a chart scrolled out of view, or in a background tab, costs nothing per sample, and draws
 * its whole window from the store the moment it comes back.
 */
import { type RefCallback, useCallback, useEffect, useRef, useState } from 'react';

export function useOnScreen<T extends Element>(margin = '200px'): [RefCallback<T>, boolean] {
  const [inView, setInView] = useState(true);
  const [tabVisible, setTabVisible] = useState(true);
  const observer = useRef<IntersectionObserver | null>(null);

  const ref = useCallback<RefCallback<T>>(
    (element) => {
      observer.current?.disconnect();
      observer.current = null;
      if (element === null) return;
      observer.current = new IntersectionObserver(
        (entries) => setInView(entries.some((entry) => entry.isIntersecting)),
        { rootMargin: margin },
      );
      observer.current.observe(element);
    },
    [margin],
  );

  useEffect(() => {
    const update = () => setTabVisible(document.visibilityState !== 'hidden');
    update();
    document.addEventListener('visibilitychange', update);
    return () => {
      document.removeEventListener('visibilitychange', update);
      observer.current?.disconnect();
    };
  }, []);

  return [ref, inView && tabVisible];
}

// Hands a file from the landing page to the editor through IndexedDB.
const CutoutHandoff = (() => {
  const open = () => new Promise((resolve, reject) => {
    const request = indexedDB.open("cutout", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("handoff");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const run = async (mode, action) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("handoff", mode);
      const result = action(tx.objectStore("handoff"));
      tx.oncomplete = () => resolve(result.result);
      tx.onerror = () => reject(tx.error);
    });
  };
  return {
    put: (file) => run("readwrite", (store) => store.put(file, "file")),
    take: async () => {
      const file = await run("readonly", (store) => store.get("file"));
      await run("readwrite", (store) => store.delete("file"));
      return file;
    },
  };
})();

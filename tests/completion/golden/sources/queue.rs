//! A bounded job queue with priorities.

use std::collections::{BinaryHeap, HashMap};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub priority: u8,
}

impl Ord for Job {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
pub enum QueueError {
    Full(usize),
    Duplicate(u64),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Full(capacity) => write!(f, "queue full ({capacity} jobs)"),
            QueueError::Duplicate(id) => write!(f, "job {id} already queued"),
        }
    }
}

pub struct Queue {
    heap: BinaryHeap<Job>,
    capacity: usize,
    seen: HashMap<u64, String>,
}

impl Queue {
    pub fn new(capacity: usize) -> Self {
        Queue {
            heap: BinaryHeap::new(),
            capacity,
            seen: HashMap::new(),
        }
    }

    pub fn push(&mut self, job: Job) -> Result<(), QueueError> {
        if self.heap.len() >= self.capacity {
            return Err(QueueError::Full(self.capacity));
        }
        if self.seen.contains_key(&job.id) {
            return Err(QueueError::Duplicate(job.id));
        }
        self.seen.insert(job.id, job.name.clone());
        self.heap.push(job);
        Ok(())
    }

    pub fn pop(&mut self) -> Option<Job> {
        let job = self.heap.pop()?;
        self.seen.remove(&job.id);
        Some(job)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn names_by_priority(&self) -> Vec<String> {
        let mut jobs: Vec<&Job> = self.heap.iter().collect();
        jobs.sort_by(|a, b| b.cmp(a));
        jobs.iter().map(|job| job.name.clone()).collect()
    }

    pub fn drain_below(&mut self, priority: u8) -> Vec<Job> {
        let mut kept = BinaryHeap::new();
        let mut drained = Vec::new();
        while let Some(job) = self.heap.pop() {
            if job.priority < priority {
                self.seen.remove(&job.id);
                drained.push(job);
            } else {
                kept.push(job);
            }
        }
        self.heap = kept;
        drained
    }
}

pub fn parse_job(line: &str, id: u64) -> Option<Job> {
    let mut parts = line.splitn(2, ':');
    let priority = parts.next()?.trim().parse::<u8>().ok()?;
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    Some(Job {
        id,
        name: name.to_string(),
        priority,
    })
}

pub fn longest_name<'a>(jobs: &'a [Job]) -> Option<&'a str> {
    let mut best: Option<&'a str> = None;
    for job in jobs {
        match best {
            Some(name) if name.len() >= job.name.len() => {}
            _ => best = Some(&job.name),
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_highest_priority_first() {
        let mut queue = Queue::new(4);
        queue.push(Job { id: 1, name: "low".into(), priority: 1 }).unwrap();
        queue.push(Job { id: 2, name: "high".into(), priority: 9 }).unwrap();
        assert_eq!(queue.pop().unwrap().name, "high");
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn parses_lines() {
        let job = parse_job("3: build docs", 7).unwrap();
        assert_eq!(job.priority, 3);
        assert_eq!(job.name, "build docs");
        assert!(parse_job("x: nothing", 8).is_none());
    }
}
